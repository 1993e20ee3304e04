// The demo notebook's recorded-runs list (public/demo/runs/index.json) is read defensively: only
// plain file names in that folder and short names, at most 8, so a broken or hostile index lists
// nothing rather than fetching elsewhere.
import { describe, expect, it } from 'vitest';
import { parseRecordedRuns } from '../../src/notebook/demo';

describe('recorded runs index', () => {
  it('keeps well-formed entries and drops the rest', () => {
    expect(
      parseRecordedRuns([
        { file: 'jmlr-llm-rank-s0.json', name: 'recorded: JMLR' },
        { file: '../secret.json', name: 'x' },
        { file: '/etc/passwd.json', name: 'x' },
        { file: 'https://evil.example/a.json', name: 'x' },
        { file: '.hidden.json', name: 'x' },
        { file: 'a.txt', name: 'x' },
        { file: 'b.json', name: '' },
        { file: 'c.json', name: 'y'.repeat(121) },
        { file: 'd.json' },
        null,
        7,
        { file: 'rag-frozen-s0.json', name: 'recorded: RAG', extra: 1 },
      ]),
    ).toEqual([
      { file: 'jmlr-llm-rank-s0.json', name: 'recorded: JMLR' },
      { file: 'rag-frozen-s0.json', name: 'recorded: RAG' },
    ]);
  });
  it('lists nothing for a non-array and at most 8 entries', () => {
    expect(parseRecordedRuns({ file: 'a.json', name: 'a' })).toEqual([]);
    expect(parseRecordedRuns(JSON.parse('{"__proto__": [1]}'))).toEqual([]);
    expect(parseRecordedRuns(Array.from({ length: 20 }, (_, i) => ({ file: `r${i}.json`, name: `r${i}` })))).toHaveLength(8);
  });
});

// The demo notebook's recorded-runs list (public/demo/runs/index.json) is read defensively: only
// plain file names in that folder and short names, at most 8, so a broken or hostile index lists
// nothing rather than fetching elsewhere. The recorded runs it lists (npm run demo-experiments --
// publish) import as results files, and the Note cell's questions, ranks, steps and counts are
// what the recorded JMLR run's evaluations show.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { heldOutClimbs } from '../../src/components/runView';
import { demoNotebook, NOTE, parseRecordedRuns } from '../../src/notebook/demo';
import { parseResultsFile } from '../../src/notebook/file';

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

describe('the demo notebook opens with recorded runs whose Note says what they show', () => {
  const read = (f: string): string => readFileSync(new URL(`../../public/demo/runs/${f}`, import.meta.url), 'utf8');
  const index = parseRecordedRuns(JSON.parse(read('index.json')));
  const runs = index.map((r) => parseResultsFile(read(r.file)));
  const jmlr = runs[0]!;
  const skip = (id: string): boolean => id.startsWith('demo-r'); // the second phrasings, reported apart
  const questions = new Map(
    readFileSync(new URL('../../public/demo/questions.jsonl', import.meta.url), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { id: string; question: string })
      .map((q) => [q.id, q.question]),
  );

  it('lists the two recorded runs, each a results file this page imports, of 200 steps with per-question evaluations', () => {
    expect(index.map((r) => r.name)).toEqual([
      expect.stringMatching(/^recorded: JMLR LLM-Rank/),
      expect.stringMatching(/^recorded: frozen-retriever RAG/),
    ]);
    for (const r of runs) {
      expect(r.steps).toHaveLength(200);
      expect(r.evals.map((e) => e.step)).toEqual([0, 50, 100, 150, 200]);
      expect(r.evals.every((e) => e.result.perQuestion?.ids.length === e.result.questions)).toBe(true);
    }
    expect(jmlr.config.retrieverLoss).toBe('llm-rank');
    expect(runs[1]!.config.schedule).toBe('frozen-retriever');
    // The frozen retriever ranks every held-out question the same at every evaluation.
    expect(heldOutClimbs(runs[1]!.evals, 1)).toEqual([]);
    expect(heldOutClimbs(runs[1]!.evals, 1, { falls: true })).toEqual([]);
  });

  it("names questions whose gold passage climbs as the JMLR run's evaluations show, and counts climbs and falls", () => {
    const cell = demoNotebook().cells.find((c) => c.kind === 'markdown' && c.text === NOTE);
    expect(cell).toBeDefined();
    const named = [
      ...NOTE.matchAll(/\*\*(demo-q\d+)\*\*, "([^"]+)": (?:the gold passage climbs )?from rank (\d+) to (\d+) by step (\d+)/g),
    ];
    expect(named).toHaveLength(3);
    const climbs = heldOutClimbs(jmlr.evals, jmlr.config.topM, { skip });
    for (const [, id, text, from, to, step] of named) {
      expect(questions.get(id!)).toBe(text);
      expect(climbs).toContainEqual({ id, from: Number(from), to: Number(to), byStep: Number(step) });
    }
    const [, up, of, down] = /(\d+) of the (\d+) test questions climb like that, and (\d+) fall/.exec(NOTE)!;
    expect(Number(up)).toBe(climbs.length);
    expect(Number(down)).toBe(heldOutClimbs(jmlr.evals, jmlr.config.topM, { skip, falls: true }).length);
    expect(Number(of)).toBe(jmlr.evals[0]!.result.perQuestion!.ids.filter((id) => !skip(id)).length);
  });
});

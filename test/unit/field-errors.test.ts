// One style for field errors: every cell's form shows a field's problem through FieldError (the
// field-error class is written nowhere else), and the typed sources are checked by the rule the
// notebook keeps them under (notebook/schema.ts), in its words.

import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { urlProblem } from '../../src/components/cells/DataCell';
import { schemaProblem } from '../../src/components/cells/FieldError';
import { MODEL_REF } from '../../src/notebook/schema';

const cells = new URL('../../src/components/cells/', import.meta.url);

describe('field errors', () => {
  it('only FieldError writes the field-error class; the Train, Data, Models and Evaluate cells use it', () => {
    const files = readdirSync(cells).filter((f) => f.endsWith('.tsx'));
    const writers = files.filter((f) => readFileSync(new URL(f, cells), 'utf8').includes('field-error'));
    expect(writers).toEqual(['FieldError.tsx']);
    for (const f of ['TrainCell.tsx', 'DataCell.tsx', 'ModelsCell.tsx', 'EvaluateCell.tsx'])
      expect(readFileSync(new URL(f, cells), 'utf8'), f).toMatch(/<FieldError id=\{/);
  });

  it("typed sources are refused by the notebook's own rule, in its words", () => {
    expect(urlProblem('jsonl', 'questions', 'ftp://example.org/q.jsonl')).toBe(
      'expected an http(s) URL, got "ftp://example.org/q.jsonl"',
    );
    expect(urlProblem('jsonl', 'questions', '  https://example.org/q.jsonl ')).toBeNull();
    expect(urlProblem('jsonl', 'questions', '   ')).toBeNull(); // nothing typed: nothing to say
    expect(schemaProblem(MODEL_REF, { kind: 'hub', repo: 'owner/my model' })).toBe(
      'expected a Hugging Face repo like "owner/name", got "owner/my model"',
    );
    expect(schemaProblem(MODEL_REF, { kind: 'hub', repo: 'colbert-ir/colbertv2.0' })).toBeNull();
    expect(schemaProblem(MODEL_REF, { kind: 'url', url: 'file:///models/x' })).toBe(
      'expected an http(s) URL, got "file:///models/x"',
    );
  });
});

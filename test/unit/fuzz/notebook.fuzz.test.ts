// Seeded hostile inputs for the training config (resolveConfig, what the Train cell, the
// experiment CLI and the worker read), the notebook file and the results file importers. Each is
// fed one-place mutations of a valid sample (test/unit/fuzz/hostile.ts) and must refuse with a
// bounded MedRankError or accept a value that still obeys its rules.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  NotebookFileError,
  parseNotebookFile,
  parseResultsFile,
  ResultsFileError,
  serializeNotebookFile,
  toNotebookFile,
} from '../../../src/notebook/file';
import { DEFAULT_CONFIG, resolveConfig, validateConfig, type TrainConfig } from '../../../src/training/config';
import { fullNotebook, runMeta, stepRecord } from '../notebook-fixtures';
import { casesOf, deep, fuzz, hostileLeft, report, type Json } from './hostile';

/** A config that resolved must pass the whole check again and hold only finite numbers and bounded strings. */
function configProblem(c: TrainConfig): string | null {
  try {
    validateConfig(c);
  } catch (err) {
    return `resolved, then fails its own check: ${(err as Error).message.slice(0, 200)}`;
  }
  if (Object.keys(c).some((k) => !(k in DEFAULT_CONFIG))) return 'a field the config does not have';
  if (c.name.length > 200) return `name of ${c.name.length} characters`;
  if (c.generatorLora.r > 1024 || c.generatorLora.targetModules.length > 64) return 'LoRA past its bounds';
  return hostileLeft(c);
}

describe('fuzz: training config', () => {
  const full = DEFAULT_CONFIG as unknown as Json;
  const partial: Json = { name: 'demo', steps: 20, generatorLora: { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj'] } };
  it('2,000 mutations of a full and a partial config: refused with a bounded message, or valid', async () => {
    const cases = casesOf([full, partial], 1_000, 7);
    const out = await fuzz(cases, (c) => resolveConfig(JSON.parse(c.text)), configProblem);
    // Truncated texts are JSON errors before the config sees them: only parseable cases count.
    const parsed = out.filter((o) => !o.problem.startsWith('generic error SyntaxError'));
    expect(parsed, report(parsed)).toEqual([]);
  });

  it('prototype keys and inherited names are refused, nothing is polluted', () => {
    for (const key of ['__proto__', 'constructor', 'toString', 'prototype']) {
      expect(() => resolveConfig(JSON.parse(`{"${key}": {"polluted": 1}}`)), key).toThrow(/config\./);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('nested objects are checked by type and bounded', () => {
    const lora = (over: object) => ({ generatorLora: { r: 8, alpha: 16, dropout: 0.05, targetModules: ['q_proj'], ...over } });
    expect(() => resolveConfig(lora({ targetModules: 'q_proj' }))).toThrow(
      /^config\.generatorLora\.targetModules: expected a list/,
    );
    expect(() => resolveConfig(lora({ alpha: '16' }))).toThrow(/^config\.generatorLora\.alpha: expected a finite number above 0/);
    expect(() => resolveConfig(lora({ dropout: null }))).toThrow(/^config\.generatorLora\.dropout: .*got null/);
    expect(() => resolveConfig(lora({ r: 2 ** 31 }))).toThrow(
      /^config\.generatorLora\.r: expected an integer from 1 to 1024, got 2147483648/,
    );
    expect(() => resolveConfig({ s2attn: { ratio: true, shift: 'roll' } })).toThrow(/^config\.s2attn\.ratio: .*got true/);
    expect(() => resolveConfig({ name: 'x'.repeat(201) })).toThrow(/^config\.name: text of 201 characters/);
    expect(() => resolveConfig({ lrRetriever: Number.NaN })).toThrow(/^config\.lrRetriever: .*got NaN/);
  });
});

describe('fuzz: notebook and results files', () => {
  const notebook = JSON.parse(
    serializeNotebookFile(
      toNotebookFile(fullNotebook(), [{ meta: runMeta('r1', 'nb1'), records: [stepRecord(0), stepRecord(1)] }]),
    ),
  ) as Json;
  const results = JSON.parse(readFileSync('test/fixtures/results/twin-tiny-jmlr.json', 'utf8')) as Json;

  it('1,500 mutations of a notebook file', async () => {
    const out = await fuzz(
      casesOf([notebook], 1_500, 11),
      (c) => parseNotebookFile(c.text),
      (v) => hostileLeft(v),
    );
    expect(out, report(out)).toEqual([]);
  });

  it('a file nested 4,000 levels deep is refused as such, not with a stack overflow', () => {
    const text = `{"format":"medrank-notebook","notebook":${deep(4_000)}}`;
    expect(() => parseNotebookFile(text)).toThrow(NotebookFileError);
    expect(() => parseNotebookFile(text)).toThrow(/nested too deeply/);
    expect(() => parseResultsFile(`{"steps":${deep(4_000, 'object')}}`)).toThrow(ResultsFileError);
  });

  it('1,000 mutations of a results file', async () => {
    const out = await fuzz(
      casesOf([results], 1_000, 13),
      (c) => parseResultsFile(c.text),
      (v) => hostileLeft(v),
    );
    expect(out, report(out)).toEqual([]);
  });
});

// `npm run experiment` end to end on the tiny fixture models and a six-passage JSONL set: a run
// stopped after 2 steps and resumed from its checkpoint file writes the losses of one
// uninterrupted run; presets merge with overrides; a bad config field exits with its name.
// (The CLI drives headless Chromium's WebGPU, like the GPU tests.)
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { readConfig } from '../../scripts/experiment';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');
const cli = (args: string[]) => run('npx', ['tsx', 'scripts/experiment.ts', ...args], { cwd: root, timeout: 600_000 });

const TINY_QA = path.join(root, 'test/fixtures/tiny-qa');

function setup() {
  const dir = mkdtempSync(path.join(tmpdir(), 'medrank-exp-'));
  const config = {
    preset: 'jmlr-code',
    name: 'tiny',
    steps: 3,
    batchSize: 1,
    candidates: 4,
    sampled: 2,
    topM: 2,
    docMaxTokens: 12,
    retrieverSide: 'query',
    checkpointEvery: 2,
    lrRetriever: 1e-3,
    lrGenerator: 1e-3,
    evalAlignmentCandidates: 3,
  };
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  const models = ['--retriever', 'test/fixtures/models/tiny-colbert', '--generator', 'test/fixtures/models/tiny-llama'];
  return { dir, args: [path.join(dir, 'config.json'), '--data', TINY_QA, ...models] };
}

type Out = {
  config: { topM: number; schedule: string };
  steps: { loss: { retriever: number; generator: number } }[];
  evals: unknown[];
  phaseMs: Record<string, number>;
  stopped: unknown;
};

describe('npm run experiment', () => {
  it('a stopped run resumed from its checkpoint file ends where an uninterrupted run ends', async () => {
    const { dir, args } = setup();
    await cli([...args, '--out', path.join(dir, 'full.json')]);
    const full = JSON.parse(readFileSync(path.join(dir, 'full.json'), 'utf8')) as Out;
    expect(full.steps).toHaveLength(3);
    expect(full.evals).toHaveLength(2); // step 0 and the end
    expect(full.config.schedule).toBe('synchronous'); // from the preset
    expect(full.config.topM).toBe(2); // the override
    expect(full.phaseMs.utility).toBeGreaterThan(0);

    await cli([...args, '--out', path.join(dir, 'part.json'), '--checkpoints', path.join(dir, 'ckpt'), '--stop-after', '2']);
    const part = JSON.parse(readFileSync(path.join(dir, 'part.json'), 'utf8')) as Out;
    expect(part.steps).toHaveLength(2);
    await cli([...args, '--out', path.join(dir, 'resumed.json'), '--resume', path.join(dir, 'ckpt', 'latest.json')]);
    const resumed = JSON.parse(readFileSync(path.join(dir, 'resumed.json'), 'utf8')) as Out;
    expect(resumed.steps).toHaveLength(3);
    resumed.steps.forEach((s, i) => {
      expect(s.loss.retriever).toBeCloseTo(full.steps[i]!.loss.retriever, 5);
      expect(s.loss.generator).toBeCloseTo(full.steps[i]!.loss.generator, 5);
    });
  }, 900_000);

  it('names the bad field of a config and exits 2', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'medrank-exp-'));
    writeFileSync(path.join(dir, 'bad.json'), JSON.stringify({ preset: 'jmlr-code', sampled: 30 }));
    expect(() => readConfig(path.join(dir, 'bad.json'))).toThrow(/config\.sampled: cannot exceed candidates \(30 > 20\)/);
    writeFileSync(path.join(dir, 'typo.json'), JSON.stringify({ lr_generator: 1 }));
    expect(() => readConfig(path.join(dir, 'typo.json'))).toThrow(/config\.lr_generator: unknown field/);
    const err = await cli([path.join(dir, 'bad.json'), '--out', path.join(dir, 'x.json')]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect((err as { code: number }).code).toBe(1);
    expect((err as { stderr: string }).stderr).toMatch(/config\.sampled/);
  });
});

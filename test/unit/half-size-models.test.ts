// Half-size frozen weights from the notebook's side: the Models cell's check box per model, the
// choice remembered with the source (MODEL_REF.frozenDtype) so Run and a reload load the same way,
// and the runs the worker refuses because they would train a packed weight (frozenWeightsProblem).
import { describe, expect, it } from 'vitest';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { ModelsCell } from '../../src/components/cells/ModelsCell';
import { schemaProblem } from '../../src/components/cells/FieldError';
import { parseNotebookFile, serializeNotebookFile, toNotebookFile } from '../../src/notebook/file';
import { MODEL_REF, type Notebook } from '../../src/notebook/schema';
import { fullNotebook } from './notebook-fixtures';
import { modelRef, withFrozenDtype } from '../../src/store/modelsSlice';
import { DEFAULT_CONFIG } from '../../src/training/config';
import { frozenWeightsProblem } from '../../src/training/step';

describe('half-size frozen weights in the notebook', () => {
  it('the notebook remembers f16 with the source, and only f16 (an f32 load keeps the old shape)', () => {
    const hub = { kind: 'hub' as const, repo: 'HuggingFaceTB/SmolLM2-135M', revision: 'main' };
    expect(modelRef(hub, 'f16')).toEqual({ kind: 'hub', repo: hub.repo, revision: 'main', frozenDtype: 'f16' });
    expect(modelRef(hub)).toEqual({ kind: 'hub', repo: hub.repo, revision: 'main' });
    expect(modelRef({ kind: 'url', url: 'http://localhost/demo/models/generator' }, 'f16')).toEqual({
      kind: 'demo',
      frozenDtype: 'f16',
    });
    expect(schemaProblem(MODEL_REF, modelRef(hub, 'f16'))).toBeNull();
    // The cell's check box rewrites the remembered ref: f16 adds the field, f32 drops it.
    expect(withFrozenDtype({ kind: 'demo' }, 'f16')).toEqual({ kind: 'demo', frozenDtype: 'f16' });
    expect(withFrozenDtype({ kind: 'url', url: 'http://x/m', frozenDtype: 'f16' }, 'f32')).toEqual({
      kind: 'url',
      url: 'http://x/m',
    });
    expect(schemaProblem(MODEL_REF, { kind: 'demo', frozenDtype: 'f8' })).toMatch(/"f16", got "f8"/);
  });

  it('the demo dense retriever is a demo model of its own, remembered by name and reloaded from its folder', () => {
    const ref = modelRef({ kind: 'url', url: 'http://localhost/demo/models/dense-retriever' });
    expect(ref).toEqual({ kind: 'demo', model: 'dense-retriever' });
    expect(schemaProblem(MODEL_REF, ref)).toBeNull();
    expect(schemaProblem(MODEL_REF, { kind: 'demo', model: 'colbert-large' })).toMatch(/"dense-retriever", got "colbert-large"/);
    expect(modelRef({ kind: 'url', url: 'http://localhost/demo/models/retriever' })).toEqual({ kind: 'demo' });
  });

  it('a notebook file keeps the choice; a version 3 file (from before it) opens with f32 weights', () => {
    const nb: Notebook = fullNotebook();
    nb.cells = nb.cells.map((c) => (c.kind === 'models' ? { ...c, generator: { ...c.generator, frozenDtype: 'f16' } } : c));
    const text = serializeNotebookFile(toNotebookFile(nb, []));
    const models = (f: { notebook: Notebook }) => f.notebook.cells.find((c) => c.kind === 'models');
    const back = models(parseNotebookFile(text));
    expect(back?.kind === 'models' && back.generator.frozenDtype).toBe('f16');
    expect(back?.kind === 'models' && back.retriever.frozenDtype).toBeUndefined();
    const v3 = JSON.parse(text) as { version: number; notebook: Notebook };
    v3.version = 3;
    v3.notebook = fullNotebook();
    const old = parseNotebookFile(JSON.stringify(v3));
    expect(old.version).toBe(5);
    expect(models(old)).toEqual(fullNotebook().cells.find((c) => c.kind === 'models'));
  });

  it('the Models cell shows each model’s choice as remembered', () => {
    const html = renderToStaticMarkup(
      createElement(ModelsCell, {
        cell: {
          id: 'c1',
          kind: 'models',
          retriever: { kind: 'hub', repo: 'org/r' },
          generator: { kind: 'hub', repo: 'org/g', frozenDtype: 'f16' },
        },
        index: 0,
        count: 1,
      }),
    );
    const box = (role: string) => new RegExp(`<input[^>]*data-testid="model-half-${role}"[^>]*>`).exec(html)?.[0];
    expect(box('generator')).toMatch(/checked/);
    expect(box('retriever')).toBeDefined();
    expect(box('retriever')).not.toMatch(/checked/);
  });

  it('refuses only the runs that would train a packed weight, saying what to change', () => {
    const none = { retriever: false, generator: false };
    const both = { retriever: true, generator: true };
    const ok = { ...DEFAULT_CONFIG, retrieverTraining: 'lora' as const, generatorEmbeddings: false };
    expect(frozenWeightsProblem(DEFAULT_CONFIG, none)).toBe('');
    expect(frozenWeightsProblem(ok, both)).toBe('');
    expect(frozenWeightsProblem({ ...ok, retrieverTraining: 'projection' }, both)).toBe('');
    expect(frozenWeightsProblem({ ...ok, retrieverTraining: 'full' }, both)).toMatch(/retriever.*'projection' or 'lora'/);
    // A retriever that does not train, or a generator that does not, may hold anything packed.
    expect(frozenWeightsProblem({ ...ok, retrieverTraining: 'full', schedule: 'frozen-retriever' }, both)).toBe('');
    expect(frozenWeightsProblem({ ...ok, generatorEmbeddings: true }, both)).toMatch(/turn off generator embeddings/);
    expect(frozenWeightsProblem({ ...ok, generatorEmbeddings: true, schedule: 'retriever-only' }, both)).toBe('');
    expect(frozenWeightsProblem({ ...ok, generatorEmbeddings: true }, { retriever: true, generator: false })).toBe('');
  });
});

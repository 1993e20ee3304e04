// One Stop per cell, one label: each cell with something under way (a run, an evaluation, a
// dataset read, an index build, a model download) shows exactly one button to stop it, labelled
// Stop, and none labelled Cancel. Rendered to static markup in Node with the store set to the
// work in flight (as models-cell-progress.test.ts does).

import { createElement, type FunctionComponent } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { DataCell } from '../../src/components/cells/DataCell';
import { EvaluateCell } from '../../src/components/cells/EvaluateCell';
import { IndexCell } from '../../src/components/cells/IndexCell';
import { ModelsCell } from '../../src/components/cells/ModelsCell';
import { TrainCell } from '../../src/components/cells/TrainCell';
import { demoNotebook } from '../../src/notebook/demo';
import type { Cell } from '../../src/notebook/schema';
import { useStore } from '../../src/store';

const busy = { done: 1, total: 4, message: 'under way' };
const cellOf = (kind: Cell['kind']): Cell => demoNotebook().cells.find((c) => c.kind === kind)!;
const buttons = (html: string): string[] => [...html.matchAll(/<button[^>]*>(.*?)<\/button>/g)].map((m) => m[1]!);

type CellProps = { cell: Cell; index: number; count: number };
function render(kind: Cell['kind'], view: unknown, cell: Cell = cellOf(kind)): string[] {
  return buttons(renderToStaticMarkup(createElement(view as FunctionComponent<CellProps>, { cell, index: 0, count: 1 })));
}

describe('one Stop per cell', () => {
  // Server rendering reads the store's initial state: set what is under way on it.
  const s = useStore.getInitialState();
  const ready = { ...s.models.retriever, status: 'ready' as const };

  it('a training run: the header Stop only (no second one on the progress bar)', () => {
    s.runs = {
      ...s.runs,
      active: { id: 'r1', cellId: cellOf('train').id, startedAt: 0, totalSteps: 4, progress: busy },
    } as typeof s.runs;
    const b = render('train', TrainCell);
    expect(b.filter((x) => x === 'Stop')).toHaveLength(1);
    expect(b.filter((x) => /cancel/i.test(x))).toEqual([]);
    s.runs = { ...s.runs, active: null };
  });

  it('an evaluation, a dataset read, an index build: one Stop on the progress bar', () => {
    s.models = { ...s.models, retriever: ready, generator: ready };
    s.runs = { ...s.runs, evaluating: { cellId: cellOf('evaluate').id, progress: busy } };
    s.data = { ...s.data, status: 'loading', progress: busy, index: { ...s.data.index, status: 'building', progress: busy } };
    for (const [kind, view] of [
      ['evaluate', EvaluateCell],
      ['data', DataCell],
      ['index', IndexCell],
    ] as const) {
      const b = render(kind, view);
      expect(
        b.filter((x) => x === 'Stop'),
        kind,
      ).toHaveLength(1);
      expect(
        b.filter((x) => /cancel/i.test(x)),
        kind,
      ).toEqual([]);
    }
  });

  it('model downloads: one Stop on each model’s download line', () => {
    s.models = {
      ...s.models,
      retriever: { ...s.models.retriever, status: 'loading', progress: busy },
      generator: { ...s.models.generator, status: 'loading', progress: busy },
    };
    // Hub sources (the demo's are resolved against the page's location, which Node has not).
    const models: Cell = {
      id: 'c3',
      kind: 'models',
      retriever: { kind: 'hub', repo: 'org/r' },
      generator: { kind: 'hub', repo: 'org/g' },
    };
    const b = render('models', ModelsCell, models);
    expect(b.filter((x) => x === 'Stop')).toHaveLength(2); // one per download line: the retriever's, the generator's
    expect(b.filter((x) => /cancel/i.test(x))).toEqual([]);
  });
});

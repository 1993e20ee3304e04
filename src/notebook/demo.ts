// The built-in demo notebook (what a first visit opens) and the defaults of a new cell of each
// kind. The demo's Train cell is kept short (4 steps, 8 evaluation questions) so it finishes in
// minutes on a software GPU.

import type { Cell, CellKind, Notebook } from './schema';

const INTRO = `# MedRank demo: joint retriever + generator training

This notebook trains a retriever and a generator together, in this tab, on your GPU.

- Data: a built-in medical QA set (1,500 passages, 3,000 questions). Every condition, drug, gene and test name in it is invented and every fact assigned at random, so the answer has to come from the passages; each condition has a look-alike whose passages share its words and give other answers. Not medical information.
- Models: two tiny demo models that MedRank made itself: a ColBERT retriever (pretrained without questions, so it finds the condition but often not the passage that answers) and a Llama-style generator that learned to read from a curriculum of fresh invented worlds (it answers from the passage it is given, not from memory).
- Index: encodes every passage with the retriever so questions can search them.
- Train: runs JMLR's LLM-Rank loss: for each question the generator measures how much each retrieved document lowers its answer NLL, and the retriever learns to rank the documents that help most first. The generator trains on its top documents at the same time.
- Evaluate: reports recall, MRR and answer accuracy with no documents, the retrieved ones and the gold ones.
- Inspect: shows one question's candidates at one step: retriever score, sampling probability, utility and which are gold.
- Compare: puts the loss and metric curves of several runs side by side.

Two runs are already here, recorded (see the next cell); to train your own, run the cells from top to bottom.`;

/**
 * What to look at in the recorded runs. The questions, ranks and steps are those `npm run -s
 * demo-report -- --climbs` finds in the recorded JMLR run (test/unit/demo-notebook.test.ts checks
 * them against public/demo/runs).
 */
export const NOTE = `## What to look at first

The Train cell holds two recorded runs of 200 steps on the demo models, seed 0: JMLR's LLM-Rank, and RAG with the retriever frozen, made with MedRank's PyTorch twin (\`npm run demo-experiments -- final\`; MedRank's engine in this tab gives the same steps, \`npm run demo-experiments -- engine\`). Both evaluated the 600 test questions and a second phrasing of each, none of which they trained on, at steps 0, 50, 100, 150 and 200.

In **Inspect**, pick *recorded: JMLR LLM-Rank* and look at *Held-out questions*. Three where the gold passage climbs into the generator's single context slot and the answer goes from wrong to right:

- **demo-q0460**, "Which test confirms Plexstyk sclerosis?": the gold passage climbs from rank 6 to 1 by step 100.
- **demo-q2437**, "Do patients with Plexstyk sclerosis mainly present with numbness?": from rank 4 to 1 by step 50.
- **demo-q0583**, "Which organ does Zeimskex palsy mainly affect?": from rank 4 to 1 by step 100.

Pick a training question and a step to see why: the step explainer shows which candidates the generator judged most useful (lowest answer NLL) and how the rank loss moved the retriever toward them.

Climbs are not the whole story: in this run 13 of the 600 test questions climb like that, and 24 fall out of the slot with the answer going from right to wrong (the view lists them after the climbs). In **Compare**, the two runs side by side: on this demo, over five seeds, LLM-Rank does not beat frozen RAG on accuracy or recall@5 (the README's table has the intervals), while the distillation losses (EMDR2, REPLUG, PDist) do.`;

/** Where the demo's recorded runs are listed (public/demo/runs, written by `npm run demo-experiments -- publish`); their files sit beside it. */
export const RECORDED_RUNS = 'demo/runs/index.json';

export interface RecordedRun {
  /** A results.json in the same folder. */
  file: string;
  /** The run's name in the notebook (it says "recorded"). */
  name: string;
}

/**
 * The recorded runs' list, checked: at most 8 entries of a plain file name and a name, so a broken
 * or hostile index lists nothing rather than fetching elsewhere.
 */
export function parseRecordedRuns(raw: unknown): RecordedRun[] {
  if (!Array.isArray(raw)) return [];
  return raw
    .filter(
      (e): e is RecordedRun =>
        typeof e === 'object' &&
        e !== null &&
        typeof (e as RecordedRun).file === 'string' &&
        /^[\w.-]{1,80}\.json$/.test((e as RecordedRun).file) &&
        !(e as RecordedRun).file.startsWith('.') &&
        typeof (e as RecordedRun).name === 'string' &&
        (e as RecordedRun).name.length > 0 &&
        (e as RecordedRun).name.length <= 120,
    )
    .slice(0, 8)
    .map((e) => ({ file: e.file, name: e.name }));
}

/** The demo notebook, fresh (a new object every call). */
export function demoNotebook(): Notebook {
  return {
    id: 'demo',
    title: 'MedRank demo: joint retriever + generator training',
    updatedAt: 0,
    cells: [
      { id: 'c1', kind: 'markdown', text: INTRO },
      { id: 'note', kind: 'markdown', text: NOTE },
      { id: 'c2', kind: 'data', source: { kind: 'demo' } },
      { id: 'c3', kind: 'models', retriever: { kind: 'demo' }, generator: { kind: 'demo' } },
      { id: 'c4', kind: 'index' },
      {
        id: 'c5',
        kind: 'train',
        preset: 'jmlr-code',
        // Sized for a software GPU (the settings the demo sweep chose, experiments/demo/chosen.json):
        // a step takes about 2.6 s there, milliseconds on a real GPU.
        overrides: {
          steps: 4,
          candidates: 10,
          sampled: 5,
          topM: 1,
          docMaxTokens: 48,
          retrieverSide: 'query',
          refreshIndexEvery: 0,
          s2attn: null,
          lrRetriever: 1e-4,
          lrGenerator: 5e-4,
          checkpointEvery: 2,
          evalAtStart: false,
          evalEvery: 0,
          evalLimit: 8,
          evalAlignmentCandidates: 5,
        },
      },
      { id: 'c6', kind: 'evaluate', split: 'validation', limit: 20, last: null },
      { id: 'c7', kind: 'inspect', runId: null, questionId: null, step: null },
      { id: 'c8', kind: 'compare', runIds: [] },
    ],
  };
}

/** An unused cell id for this notebook: 'c' + one more than the highest cN in it. */
export function newCellId(nb: Notebook): string {
  let max = 0;
  for (const c of nb.cells) {
    const m = /^c(\d+)$/.exec(c.id);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return `c${max + 1}`;
}

/** A new cell of this kind with its defaults. */
export function emptyCell<K extends CellKind>(kind: K, id: string): Extract<Cell, { kind: K }> {
  const cells: { [T in CellKind]: () => Extract<Cell, { kind: T }> } = {
    markdown: () => ({ id, kind: 'markdown', text: '' }),
    data: () => ({ id, kind: 'data', source: { kind: 'demo' } }),
    models: () => ({ id, kind: 'models', retriever: { kind: 'demo' }, generator: { kind: 'demo' } }),
    index: () => ({ id, kind: 'index' }),
    train: () => ({ id, kind: 'train', preset: 'jmlr-code', overrides: {} }),
    evaluate: () => ({ id, kind: 'evaluate', split: 'validation', limit: 0, last: null }),
    inspect: () => ({ id, kind: 'inspect', runId: null, questionId: null, step: null }),
    compare: () => ({ id, kind: 'compare', runIds: [] }),
  };
  return cells[kind]();
}

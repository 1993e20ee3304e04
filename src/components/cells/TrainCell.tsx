// The Train cell (connected): a preset, the retriever loss and schedule, and the settings that
// decide a run's size, rates and seed; run and stop, progress with an ETA, and live charts of the
// run: both losses, alignment (Spearman of retriever score against -answer NLL), recall of gold
// among the candidates, step time, and the held-out evaluations. A bad value is flagged at its field before a run (resolveConfig's
// ConfigError names the field). Every run of the cell is listed; a stopped or interrupted run
// resumes from its last checkpoint. A results.json from `npm run experiment --out` or the PyTorch
// twin imports as one of the cell's runs, marked with where it was trained; "Export for a cluster"
// downloads the experiment bundle of the loaded data and models under the cell's config as a .zip.

import { useEffect, useMemo, useRef, useState } from 'react';
import type { RunMeta, StepRecord, TrainCell as TrainCellConfig } from '../../notebook/schema';
import { useStore } from '../../store';
import { indexUsable } from '../../store/dataSlice';
import type { StartRequest } from '../../worker/protocol';
import { modelsText, runNamesOf, startText, type RunNames } from '../lineage';
import { loadPreset, presetHelp, PRESETS } from '../../store/presets';
import {
  ConfigError,
  DEFAULT_CONFIG,
  LOSS_HELP,
  LOSS_LABELS,
  SCHEDULE_HELP,
  RETRIEVER_LOSSES,
  resolveConfig,
  SCHEDULES,
  type RetrieverLoss,
  type Schedule,
  type TrainConfig,
} from '../../training/config';
import { Chart, type Series } from '../Chart';
import { download } from '../download';
import { ResultsImport } from './ResultsImport';
import { fmt, pct, runOrigin, stepSeries } from '../runView';
import { canResume, runStatusText, runWaitingFor } from '../runStatus';
import { CellFrame } from './CellFrame';
import { FieldError } from './FieldError';
import { ProgressLine } from './ProgressLine';
import { NumTh } from './NumTh';

/** The settings on the form, in order, with their labels; the rest of the config comes from the preset. */
const FIELDS = [
  ['steps', 'Steps'],
  ['batchSize', 'Batch size (questions per step)'],
  ['seed', 'Seed'],
  ['candidates', 'Candidates per question (K)'],
  ['sampled', 'Documents sampled (n)'],
  ['topM', 'Documents in the generator context (m)'],
  ['lrRetriever', 'Retriever learning rate'],
  ['lrGenerator', 'Generator learning rate'],
  ['evalEvery', 'Evaluate every (steps, 0: at the end)'],
  ['evalLimit', 'Evaluation questions (0: all)'],
  ['probeQuestions', 'Probe questions (followed through the run without an update; 0: none)'],
  ['probeEvery', 'Probe every (steps)'],
] as const satisfies readonly (readonly [keyof TrainConfig, string])[];
type FieldKey = (typeof FIELDS)[number][0];

/** A line under a field where its number has a meaning the label cannot carry. */
const FIELD_HELP = {
  steps: '0: no training, an evaluation of the models as they are (tick "Evaluate before the first step").',
} satisfies Partial<Record<FieldKey, string>>;

const NO_PRESET: Partial<TrainConfig> = {};

/** The method, chosen from lists: a preset sets them, the cell may change them. */
const CHOICES = [
  ['retrieverLoss', 'Retriever loss', RETRIEVER_LOSSES],
  ['schedule', 'Schedule', SCHEDULES],
] as const;

/** What makes a preset the method it is: changing the preset drops the cell's own values of these. */
const METHOD_FIELDS = new Set<string>([
  'name',
  'schedule',
  'stagedReaderFraction',
  'retrieverLoss',
  'sampling',
  'samplingTemperature',
  'llmRankMargin',
  'tauS',
  'tauG',
  'jomedPrior',
  'jomedWeighting',
  'infoNceTau',
  'generatorContext',
]);

export function TrainCell({ cell, index, count }: { cell: TrainCellConfig; index: number; count: number }) {
  const runs = useStore((s) => s.runs);
  const ready = useStore(
    (s) =>
      s.models.retriever.status === 'ready' &&
      s.models.generator.status === 'ready' &&
      s.data.status === 'ready' &&
      indexUsable(s.data.index.status),
  );
  const modelsAndData = useStore(
    (s) => s.models.retriever.status === 'ready' && s.models.generator.status === 'ready' && s.data.status === 'ready',
  );
  // What a run still needs from the cells above, in words ('' when nothing).
  const missing = useStore((s) =>
    [
      s.models.retriever.status !== 'ready' && 'a retriever (Models)',
      s.models.generator.status !== 'ready' && 'a generator (Models)',
      s.data.status !== 'ready' && 'a dataset (Data)',
      s.data.status === 'ready' && !indexUsable(s.data.index.status) && 'the index (Data and index: Build index)',
    ]
      .filter(Boolean)
      .join(', '),
  );
  const { updateCell, startRun, stopRun, resumeRun, loadRecords, resetModels } = useStore.getState();
  const [startFrom, setStartFrom] = useState<'loaded' | 'continue'>('loaded');
  const presetName = cell.preset;
  const [loaded, setLoaded] = useState<{ name: string; config: Partial<TrainConfig> } | null>(null);
  const [presetError, setPresetError] = useState<string | null>(null);
  // No preset: the cell's fields over the config defaults, as the run will use them.
  const preset = presetName === null ? NO_PRESET : loaded?.name === presetName ? loaded.config : null;
  /**
   * The text of a field while it is edited ("0." on the way to "0.0003" must stay as typed); every
   * number typed also goes straight to the cell. Dropped on blur when it is a number.
   */
  const [typed, setTyped] = useState<Partial<Record<FieldKey, string>>>({});
  const parse = (text: string): number | null => {
    const v = Number(text.trim());
    return text.trim() === '' || !Number.isFinite(v) ? null : v;
  };
  const [shown, setShown] = useState<string | null>(null);

  useEffect(() => {
    if (presetName === null) return;
    let live = true;
    loadPreset(presetName)
      .then((config) => live && (setLoaded({ name: presetName, config }), setPresetError(null)))
      .catch((err: Error) => live && setPresetError(err.message));
    return () => {
      live = false;
    };
  }, [presetName]);

  const partial = useMemo(() => ({ ...(preset ?? {}), ...cell.overrides }), [preset, cell.overrides]);
  const resolved = useMemo((): { config: TrainConfig | null; error: ConfigError | null } => {
    try {
      return { config: resolveConfig(partial), error: null };
    } catch (err) {
      if (err instanceof ConfigError) return { config: null, error: err };
      throw err;
    }
  }, [partial]);
  const typedBad = FIELDS.find(([k]) => typed[k] !== undefined && parse(typed[k]) === null)?.[0] ?? null;

  const mine = runs.list.filter((m) => m.cellId === cell.id);
  const active = runs.active?.cellId === cell.id ? runs.active : null;
  const current = mine.find((m) => m.id === (active?.id ?? shown)) ?? mine[mine.length - 1] ?? null;
  const records = current ? runs.records[current.id] : undefined;
  useEffect(() => {
    if (current && !records) void loadRecords(current.id);
  }, [current, records, loadRecords]);

  const runError = runs.errors[cell.id] ?? null;
  const waiting = runWaitingFor(active, {
    evaluating: Boolean(runs.evaluating),
    exporting: Object.values(runs.bundles).some((b) => b.busy),
  });
  // The ETA counts from when the run began in the worker, not from a wait in its queue.
  const [waitedUntil, setWaitedUntil] = useState(0);
  const wasWaiting = useRef(false);
  const waitingNow = waiting !== null;
  useEffect(() => {
    if (wasWaiting.current && !waitingNow) setWaitedUntil(performance.now());
    wasWaiting.current = waitingNow;
  }, [waitingNow]);
  const badField = typedBad ?? resolved.error?.field ?? runError?.field ?? null;
  const canRun = ready && !runs.active && !typedBad && !resolved.error && preset !== null;
  // The run the models are at may be of the notebook open before this one: its name comes along.
  const names = runNamesOf(
    runs.list,
    runs.models.from === 'run' && runs.modelsName ? { [runs.models.runId]: runs.modelsName } : {},
  );
  // Only the run the models are at can be continued; anything else starts from the checkpoints.
  const continuable = runs.models.from === 'run' ? runs.models : null;
  const start: StartRequest =
    startFrom === 'continue' && continuable ? { from: 'run', runId: continuable.runId } : { from: 'loaded' };
  // Why Run is disabled, always said (not replaced by the last run's status).
  const runNeeds =
    canRun || active
      ? null
      : [
          runs.active && 'the run in progress to finish',
          missing && `load ${missing}`,
          typedBad && `a number in ${FIELDS.find(([k]) => k === typedBad)?.[1] ?? typedBad}`,
          resolved.error && `a valid configuration: ${resolved.error.message}`,
          !resolved.error && preset === null && (presetError ? 'a preset that loads' : 'the preset (loading)'),
        ]
          .filter(Boolean)
          .join('; ');
  // A bundle needs the data and both models (not the index: the cluster builds its own).
  const canExport = modelsAndData && !typedBad && !resolved.error && preset !== null;

  const setField = (k: FieldKey, text: string): void => {
    setTyped((t) => ({ ...t, [k]: text }));
    const v = parse(text);
    if (v !== null) updateCell(cell.id, { overrides: { ...cell.overrides, [k]: v } });
  };
  const settle = (k: FieldKey): void => {
    if (typed[k] !== undefined && parse(typed[k]) !== null)
      setTyped((t) => {
        const next = { ...t };
        delete next[k];
        return next;
      });
  };
  const valueOf = (k: FieldKey): string => typed[k] ?? String(partial[k] ?? resolveConfig({})[k]);

  return (
    <CellFrame
      id={cell.id}
      kind="train"
      index={index}
      count={count}
      status={
        active
          ? {
              text: waiting ? 'waiting to start' : `training: step ${records?.length ?? 0} of ${active.totalSteps}`,
              tone: 'busy',
            }
          : current
            ? {
                text: `${current.name}: ${runStatusText(current)}`,
                tone: current.status === 'error' ? 'bad' : current.status === 'done' ? 'ok' : undefined,
              }
            : { text: ready ? 'ready to run' : 'needs data, models and the index (cells above)' }
      }
      actions={
        <>
          <button
            type="submit"
            form={`${cell.id}-form`}
            disabled={!canRun}
            title={runNeeds ? `Run needs ${runNeeds}` : undefined}
            data-testid="train-run"
          >
            Run
          </button>
          <button type="button" disabled={!active} onClick={stopRun} data-testid="train-stop">
            Stop
          </button>
        </>
      }
    >
      <div className="row train-start" data-testid="train-start-row">
        <label>
          Start from{' '}
          <select
            data-testid="train-start"
            value={continuable ? startFrom : 'loaded'}
            disabled={Boolean(runs.active) || !continuable}
            onChange={(e) => setStartFrom(e.target.value === 'continue' ? 'continue' : 'loaded')}
          >
            <option value="loaded">the loaded checkpoints</option>
            {continuable && (
              <option value="continue">
                the models as {names(continuable.runId)} left them (after step {continuable.step})
              </option>
            )}
          </select>
        </label>
        <span className="muted" data-testid="train-models-state" data-from={runs.models.from}>
          {modelsText(runs.models, names)}
        </span>
        {continuable && (
          <button
            type="button"
            data-testid="train-reset-models"
            disabled={Boolean(runs.active) || runs.reset.busy}
            onClick={() => void resetModels()}
          >
            Reset models to the loaded checkpoints
          </button>
        )}
        {runs.reset.error && (
          <span className="error" role="alert">
            {runs.reset.error}
          </span>
        )}
      </div>
      {runNeeds && (
        <p className="muted" data-testid="train-run-needs">
          Run needs {runNeeds}.
        </p>
      )}
      <form
        id={`${cell.id}-form`}
        data-testid="train-form"
        data-preset={cell.preset ?? ''}
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          if (canRun) void startRun(cell.id, start);
          else if (badField) document.getElementById(`${cell.id}-${badField}`)?.focus();
        }}
      >
        <div className="train-fields">
          <div className="field">
            <label htmlFor={`${cell.id}-preset`}>Preset</label>
            <select
              id={`${cell.id}-preset`}
              value={presetName ?? ''}
              disabled={Boolean(active)}
              onChange={(e) => {
                // A new method: the preset's method settings, but keep the run's size, rates and seed.
                const keep = Object.fromEntries(Object.entries(cell.overrides).filter(([k]) => !METHOD_FIELDS.has(k)));
                setTyped({});
                updateCell(cell.id, { preset: e.target.value || null, overrides: keep });
              }}
            >
              <option value="">none (the config defaults)</option>
              {PRESETS.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
            <span className="muted field-help" data-testid="train-help-preset">
              {presetHelp(presetName)}
            </span>
          </div>
          {CHOICES.map(([k, label, options]) => (
            <div className="field" key={k}>
              <label htmlFor={`${cell.id}-${k}`}>{label}</label>
              <select
                id={`${cell.id}-${k}`}
                value={String(partial[k] ?? DEFAULT_CONFIG[k])}
                disabled={Boolean(active)}
                aria-invalid={badField === k}
                aria-describedby={badField === k ? `${cell.id}-error-${k}` : undefined}
                data-testid={`train-field-${k}`}
                onChange={(e) => updateCell(cell.id, { overrides: { ...cell.overrides, [k]: e.target.value } })}
              >
                {options.map((o) => (
                  <option key={o} value={o}>
                    {o}
                  </option>
                ))}
              </select>
              <span className="muted field-help" data-testid={`train-help-${k}`}>
                {k === 'retrieverLoss'
                  ? LOSS_HELP[(partial[k] ?? DEFAULT_CONFIG[k]) as RetrieverLoss]
                  : SCHEDULE_HELP[(partial[k] ?? DEFAULT_CONFIG[k]) as Schedule]}
              </span>
              {badField === k && resolved.error?.field === k && (
                <FieldError id={`${cell.id}-error-${k}`} testId={`train-error-${k}`}>
                  {resolved.error.message}
                </FieldError>
              )}
            </div>
          ))}
          {FIELDS.map(([k, label]) => {
            const bad = badField === k;
            const message =
              typed[k] !== undefined && parse(typed[k]) === null
                ? `${label}: "${typed[k]}" is not a number`
                : resolved.error?.field === k
                  ? resolved.error.message
                  : runError?.message;
            return (
              <div className="field" key={k}>
                <label htmlFor={`${cell.id}-${k}`}>{label}</label>
                <input
                  id={`${cell.id}-${k}`}
                  inputMode="decimal"
                  value={valueOf(k)}
                  disabled={Boolean(active)}
                  aria-invalid={bad}
                  aria-describedby={bad ? `${cell.id}-error-${k}` : undefined}
                  data-testid={`train-field-${k}`}
                  onChange={(e) => setField(k, e.target.value)}
                  onBlur={() => settle(k)}
                  size={8}
                />
                {k in FIELD_HELP && (
                  <span className="muted field-help" data-testid={`train-help-${k}`}>
                    {FIELD_HELP[k as keyof typeof FIELD_HELP]}
                  </span>
                )}
                {bad && (
                  <FieldError id={`${cell.id}-error-${k}`} testId={`train-error-${k}`}>
                    {message}
                  </FieldError>
                )}
              </div>
            );
          })}
          <div className="field">
            <label>
              <input
                type="checkbox"
                checked={Boolean(partial.evalAtStart ?? DEFAULT_CONFIG.evalAtStart)}
                disabled={Boolean(active)}
                data-testid="train-field-evalAtStart"
                onChange={(e) => updateCell(cell.id, { overrides: { ...cell.overrides, evalAtStart: e.target.checked } })}
              />{' '}
              Evaluate before the first step (a before and after)
            </label>
          </div>
        </div>
        {resolved.config && (
          <p className="muted" data-testid="train-preset-summary">
            {cell.preset ?? 'no preset'}: schedule {resolved.config.schedule}, retriever loss {resolved.config.retrieverLoss},
            sampling {resolved.config.sampling ? `n = ${resolved.config.sampled} of K = ${resolved.config.candidates}` : 'top-n'}
          </p>
        )}
        {presetError && (
          <p className="error" role="alert">
            {presetError}
          </p>
        )}
        {resolved.error && !FIELDS.some(([k]) => k === resolved.error?.field) && (
          <p className="error" role="alert" data-testid="train-config-error">
            {resolved.error.message}
          </p>
        )}
      </form>
      {active && (
        // No Stop of its own: the cell's header has the one Stop.
        <ProgressLine
          p={waiting ? { done: 0, total: 0, message: waiting } : active.progress}
          startedAt={Math.max(active.startedAt, waitedUntil)}
          testId="train-progress"
          label="Training progress"
        />
      )}
      {runError && !badField && (
        <p className="error" role="alert" data-testid="train-error">
          {runError.message}
        </p>
      )}
      {runs.saveError && active && (
        <p className="error" role="alert" data-testid="save-error">
          {runs.saveError}. The run goes on and stays on screen; delete old runs under Storage or export the notebook to keep it.
        </p>
      )}
      <div className="row train-files">
        <ResultsImport cellId={cell.id} onImported={setShown} />
        <ClusterExport cellId={cell.id} canExport={canExport} busyRun={Boolean(runs.active)} />
      </div>
      {mine.length > 0 && (
        <RunList
          runs={mine}
          names={names}
          elsewhere={runs.elsewhere}
          current={current?.id ?? null}
          onShow={setShown}
          busy={Boolean(runs.active)}
          onResume={resumeRun}
          ready={ready}
        />
      )}
      {current && records && <RunCharts meta={current} records={records} />}
    </CellFrame>
  );
}

/** Download the experiment bundle of the loaded data and models under this cell's config (docs/cluster.md). */
function ClusterExport({ cellId, canExport, busyRun }: { cellId: string; canExport: boolean; busyRun: boolean }) {
  const state = useStore((s) => s.runs.bundles[cellId]);
  const busy = Boolean(state?.busy);
  const run = async (): Promise<void> => {
    const out = await useStore.getState().exportBundle(cellId);
    if (out) download(out.blob, out.fileName);
  };
  return (
    <>
      <button
        type="button"
        disabled={!canExport || busy || busyRun}
        onClick={() => void run()}
        data-testid="train-export-bundle"
        title={
          canExport
            ? busyRun
              ? 'after the run: the bundle carries the models as they are then'
              : 'a .zip of the tokenized data, the config and both models, for the PyTorch twin (docs/cluster.md)'
            : 'load the data and both models first (cells above)'
        }
      >
        {busy ? 'Exporting…' : 'Export for a cluster'}
      </button>
      {busy && state?.progress && (
        <span className="muted" role="status" data-testid="train-export-progress">
          {state.progress.message}
        </span>
      )}
      {state?.error && (
        <p className="error" role="alert" data-testid="train-export-error">
          Could not export: {state.error}
        </p>
      )}
      {state?.message && (
        <p className="ok" role="status" data-testid="train-export-message">
          {state.message}
        </p>
      )}
    </>
  );
}

function RunList({
  runs,
  names,
  elsewhere,
  current,
  onShow,
  onResume,
  busy,
  ready,
}: {
  runs: RunMeta[];
  names: RunNames;
  /** Runs another tab is training. */
  elsewhere: string[];
  current: string | null;
  onShow: (id: string) => void;
  onResume: (id: string) => Promise<void>;
  busy: boolean;
  ready: boolean;
}) {
  return (
    <table data-testid="train-runs" className="runs">
      <caption>Runs of this cell</caption>
      <thead>
        <tr>
          <th scope="col">Run</th>
          <th scope="col">Loss</th>
          <th scope="col">Schedule</th>
          <th scope="col">Started from</th>
          <th scope="col">Status</th>
          <th scope="col">Trained on</th>
          <NumTh>Steps</NumTh>
          <th scope="col">Checkpoint</th>
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {runs.map((m) => (
          <tr
            key={m.id}
            data-testid="train-run-row"
            data-run-id={m.id}
            data-status={m.status}
            data-elsewhere={elsewhere.includes(m.id) || undefined}
            data-imported={m.imported ? m.imported.adapter : undefined}
            aria-current={m.id === current || undefined}
          >
            <th scope="row">
              <button type="button" className="link" onClick={() => onShow(m.id)} aria-label={`Show ${m.name}`}>
                {m.name}
              </button>
            </th>
            <td data-testid="train-run-loss">{LOSS_LABELS[m.config.retrieverLoss]}</td>
            <td data-testid="train-run-schedule">{m.config.schedule}</td>
            <td data-testid="train-run-start" data-from={m.start?.from ?? 'unknown'}>
              {startText(m.start, names)}
            </td>
            <td>
              {elsewhere.includes(m.id) ? 'training in another tab' : runStatusText(m)}
              {m.message && <span className="muted"> — {m.message}</span>}
            </td>
            <td
              data-testid="train-run-origin"
              title={
                m.imported
                  ? `${m.imported.fileName}: data ${m.imported.data}, retriever ${m.imported.models.retriever}, generator ` +
                    `${m.imported.models.generator}${m.imported.engine ? `; trained by ${m.imported.engine}` : ''}`
                  : undefined
              }
            >
              {runOrigin(m)}
            </td>
            <td className="num">
              {m.steps}/{m.config.steps}
            </td>
            <td data-testid="train-run-checkpoint">{m.checkpointStep !== null ? `step ${m.checkpointStep}` : '–'}</td>
            <td>
              {canResume(m) && (
                <button
                  type="button"
                  disabled={busy || !ready}
                  title={ready ? undefined : 'load the data and models and build the index first'}
                  onClick={() => void onResume(m.id)}
                  data-testid="train-resume"
                >
                  Resume after step {m.checkpointStep}
                </button>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Live curves of one run: losses, alignment, recall, step time; evaluations as a table and a chart. */
export function RunCharts({ meta, records }: { meta: RunMeta; records: readonly StepRecord[] }) {
  const s = useMemo(() => stepSeries(records), [records]);
  const line = (ys: (number | null)[]): { x: number; y: number | null }[] => ys.map((y, i) => ({ x: s.step[i]!, y }));
  const losses: Series[] = [
    { label: 'retriever loss', points: line(s.retrieverLoss) },
    { label: 'generator loss (answer NLL)', points: line(s.generatorLoss) },
  ];
  const align: Series[] = [
    { label: 'Spearman(score, −NLL)', points: line(s.spearman) },
    ...Object.entries(s.recall).map(([k, ys]) => ({ label: `recall@${k} of gold`, points: line(ys), dashed: true })),
  ];
  const evals = meta.evals;
  const evalSeries: Series[] = (['none', 'retrieved', 'oracle'] as const).map((k) => ({
    label: `accuracy, ${k === 'none' ? 'no documents' : k}`,
    points: evals.filter((e) => e.split === meta.config.evalSplit).map((e) => ({ x: e.step, y: e.result.accuracy[k] })),
  }));
  return (
    <div data-testid="run-charts" data-run-id={meta.id} data-steps={records.length}>
      <div className="chart-grid">
        <Chart type="line" title="Losses" series={losses} xLabel="step" yLabel="loss" testId="chart-losses" />
        <Chart type="line" title="Alignment and recall" series={align} xLabel="step" yLabel="value" testId="chart-alignment" />
        <Chart
          type="line"
          title="Step time"
          series={[{ label: 'ms per step', points: s.ms.map((y, i) => ({ x: s.step[i]!, y })) }]}
          xLabel="step"
          yLabel="ms"
          testId="chart-ms"
        />
        {evals.length > 0 && (
          <Chart
            type="line"
            title={`Accuracy (${meta.config.evalSplit})`}
            series={evalSeries}
            xLabel="step"
            yLabel="accuracy"
            yRange={[0, 1]}
            testId="chart-accuracy"
          />
        )}
      </div>
      {records.length > 0 && (
        <table data-testid="train-steps">
          <caption>Last steps</caption>
          <thead>
            <tr>
              <th scope="col">Step</th>
              <NumTh>Retriever loss</NumTh>
              <NumTh>Generator loss</NumTh>
              <NumTh>Spearman</NumTh>
              <NumTh>ms</NumTh>
            </tr>
          </thead>
          <tbody>
            {records.slice(-5).map((r, i, a) => {
              const at = records.length - a.length + i;
              return (
                <tr key={r.step} data-testid="train-step-row">
                  <th scope="row">{r.step + 1}</th>
                  <td className="num">{fmt(r.loss.retriever, 4)}</td>
                  <td className="num">{fmt(r.loss.generator, 4)}</td>
                  <td className="num">{fmt(r.alignment.spearman)}</td>
                  <td className="num">{s.ms[at]!.toFixed(0)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {evals.length > 0 && <EvalTable evals={evals} testId="train-evals" />}
    </div>
  );
}

export function EvalTable({ evals, testId }: { evals: RunMeta['evals']; testId: string }) {
  return (
    <table data-testid={testId}>
      <caption>Evaluations (held-out questions)</caption>
      <thead>
        <tr>
          <th scope="col">Step</th>
          <th scope="col">Split</th>
          <NumTh>Questions</NumTh>
          <NumTh>Accuracy, no documents</NumTh>
          <NumTh>Retrieved</NumTh>
          <NumTh>Oracle</NumTh>
          <NumTh>Recall@5</NumTh>
          <NumTh>MRR@10</NumTh>
          <NumTh>Spearman</NumTh>
        </tr>
      </thead>
      <tbody>
        {evals.map((ev) => (
          <tr key={`${ev.split}-${ev.step}`} data-testid="eval-row">
            <th scope="row">{ev.step}</th>
            <td>{ev.split}</td>
            <td className="num">{ev.result.questions}</td>
            <td className="num">{pct(ev.result.accuracy.none)}</td>
            <td className="num">{pct(ev.result.accuracy.retrieved)}</td>
            <td className="num">{pct(ev.result.accuracy.oracle)}</td>
            <td className="num">{fmt(ev.result.recall[5])}</td>
            <td className="num">{fmt(ev.result.mrr10)}</td>
            <td className="num">{fmt(ev.result.alignment.spearman)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

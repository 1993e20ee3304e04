// Joint training (connected): pick a preset (public/presets/<name>.json), adjust the few settings
// that decide a run's size and speed, run it in the worker, and watch it: a progress bar with an
// ETA, the last steps' losses and alignment, and the evaluations. A bad value is flagged at its
// field (resolveConfig's ConfigError names it) and the run is refused until it is fixed.

import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { ConfigError, resolveConfig, type TrainConfig } from '../training/config';
import { useStore } from '../store';
import type { TrainStepSummary } from '../worker/protocol';

const PRESETS = ['jmlr-code', 'jmlr-paper', 'jomed', 'atlas-pdist', 'replug', 'rag-frozen'] as const;

/** The settings on the form, in order, with their labels; the rest of the config comes from the preset. */
const FIELDS = [
  ['steps', 'Steps'],
  ['batchSize', 'Batch size (questions per step)'],
  ['seed', 'Seed'],
  ['candidates', 'Candidates per question (K)'],
  ['sampled', 'Documents sampled (n)'],
  ['topM', 'Documents in the generator context (m)'],
  ['docMaxTokens', 'Tokens per document'],
  ['lrRetriever', 'Retriever learning rate'],
  ['lrGenerator', 'Generator learning rate'],
  ['evalLimit', 'Evaluation questions (0: all)'],
] as const satisfies readonly (readonly [keyof TrainConfig, string])[];

type FieldKey = (typeof FIELDS)[number][0];
type Values = Record<FieldKey, string>;

const valuesOf = (c: TrainConfig): Values => Object.fromEntries(FIELDS.map(([k]) => [k, String(c[k])])) as Values;

/** The config the form describes, or the first field resolveConfig refuses. */
function configOf(preset: Partial<TrainConfig>, values: Values): { config: Partial<TrainConfig>; error: ConfigError | null } {
  const config: Partial<TrainConfig> = { ...preset };
  for (const [k] of FIELDS) {
    const v = values[k].trim();
    (config as Record<string, unknown>)[k] = v === '' ? NaN : Number(v);
  }
  try {
    resolveConfig(config);
    return { config, error: null };
  } catch (err) {
    if (err instanceof ConfigError) return { config, error: err };
    throw err;
  }
}

const num = (v: number | null | undefined, digits = 4): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits);
const pct = (v: number): string => `${(v * 100).toFixed(0)}%`;

function eta(steps: TrainStepSummary[], total: number): string {
  if (steps.length === 0) return 'estimating…';
  const mean = steps.reduce((a, s) => a + s.ms, 0) / steps.length;
  const left = Math.max(0, total - steps.length) * mean;
  return left < 1000 ? 'about done' : `about ${Math.ceil(left / 1000)} s left`;
}

export function TrainPanel() {
  const training = useStore((s) => s.training);
  const ready = {
    retriever: useStore((s) => s.models.retriever.status === 'ready'),
    generator: useStore((s) => s.models.generator.status === 'ready'),
    data: useStore((s) => s.data.status === 'ready'),
    index: useStore((s) => s.data.index.status === 'ready'),
  };
  const train = useStore((s) => s.train);
  const stopTraining = useStore((s) => s.stopTraining);
  const [presetName, setPresetName] = useState<string>('jmlr-code');
  const [preset, setPreset] = useState<{ name: string; config: Partial<TrainConfig> } | null>(null);
  const [presetError, setPresetError] = useState<string | null>(null);
  const [values, setValues] = useState<Values>(() => valuesOf(resolveConfig({})));
  const [showError, setShowError] = useState(false);
  const inputs = useRef<Partial<Record<FieldKey, HTMLInputElement | null>>>({});

  useEffect(() => {
    let live = true;
    fetch(`/presets/${presetName}.json`)
      .then(async (res) => {
        if (!res.ok) throw new Error(`/presets/${presetName}.json answered HTTP ${res.status}`);
        const config = (await res.json()) as Partial<TrainConfig>;
        const resolved = resolveConfig(config);
        if (!live) return;
        setPresetError(null);
        setPreset({ name: presetName, config });
        // The preset's values on the form, but keep a run's size (steps) the user chose.
        setValues((old) => ({ ...valuesOf(resolved), steps: old.steps }));
      })
      .catch((err: Error) => live && setPresetError(`preset ${presetName}: ${err.message}`));
    return () => {
      live = false;
    };
  }, [presetName]);

  const { config, error } = useMemo(() => configOf(preset?.config ?? {}, values), [preset, values]);
  const running = training.status === 'running';
  // A refused value shows at once once the user has touched the form; a run error names one too.
  const badField = (error && showError ? error.field : null) ?? (training.status === 'error' ? training.errorField : null);
  const missing = [
    !ready.retriever && 'a retriever',
    !ready.generator && 'a generator',
    !ready.data && 'a dataset',
    ready.data && ready.retriever && !ready.index && 'the index',
  ].filter(Boolean);
  const totalSteps = typeof config.steps === 'number' && Number.isFinite(config.steps) ? config.steps : 0;
  const runSteps = training.totalSteps ?? totalSteps;

  const onSubmit = (e: FormEvent): void => {
    e.preventDefault();
    setShowError(true);
    if (error) {
      const k = error.field as FieldKey;
      inputs.current[k]?.focus();
      return;
    }
    if (!running) void train(config);
  };

  return (
    <section className="panel" aria-labelledby="train-title" data-testid="train-panel">
      <h2 id="train-title">Joint training</h2>
      <p className="muted">
        Trains the loaded retriever and generator together on the dataset&apos;s training questions, starting from the built
        index. The models stay trained afterwards; when the retriever trains, the index is rebuilt with it.
      </p>
      <form onSubmit={onSubmit} data-testid="train-form" data-preset={preset?.name ?? ''} noValidate>
        <div className="train-fields">
          <div className="field">
            <label htmlFor="train-preset">Preset</label>
            <select id="train-preset" value={presetName} onChange={(e) => setPresetName(e.target.value)} disabled={running}>
              {PRESETS.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </div>
          {FIELDS.map(([k, label]) => {
            const bad = badField === k;
            return (
              <div className="field" key={k}>
                <label htmlFor={`train-${k}`}>{label}</label>
                <input
                  id={`train-${k}`}
                  ref={(el) => {
                    inputs.current[k] = el;
                  }}
                  inputMode="decimal"
                  value={values[k]}
                  disabled={running}
                  aria-invalid={bad}
                  aria-describedby={bad ? `train-error-${k}` : undefined}
                  data-testid={`train-field-${k}`}
                  onChange={(e) => {
                    setShowError(true);
                    setValues((old) => ({ ...old, [k]: e.target.value }));
                  }}
                  size={8}
                />
                {bad && (
                  <span className="error field-error" id={`train-error-${k}`} data-testid={`train-error-${k}`}>
                    {error?.field === k ? error.message : training.error}
                  </span>
                )}
              </div>
            );
          })}
        </div>
        {preset && (
          <p className="muted" data-testid="train-preset-summary">
            {preset.name}: schedule {String(config.schedule ?? 'synchronous')}, retriever loss{' '}
            {String(config.retrieverLoss ?? 'llm-rank')}
          </p>
        )}
        {presetError && (
          <p className="error" role="alert">
            {presetError}
          </p>
        )}
        {showError && error && !FIELDS.some(([k]) => k === error.field) && (
          <p className="error" role="alert" data-testid="train-config-error">
            {error.message}
          </p>
        )}
        <div className="toolbar">
          <button type="submit" disabled={running || !preset}>
            Run
          </button>
          <button type="button" disabled={!running} onClick={stopTraining}>
            Stop
          </button>
          <span role="status" aria-live="polite" data-testid="train-status" data-status={training.status}>
            {STATUS_TEXT[training.status]}
            {training.status === 'idle' && missing.length > 0 && ` (load ${missing.join(', ')} first)`}
          </span>
        </div>
      </form>
      {(running || training.steps.length > 0) && (
        <div className="train-progress" data-testid="train-progress">
          <progress value={training.steps.length} max={runSteps || 1} aria-label="training progress" />
          <span className="muted">
            {training.steps.length}/{runSteps} steps{running ? `, ${eta(training.steps, runSteps)}` : ''}
            {running && training.progress ? ` · ${training.progress.message}` : ''}
          </span>
        </div>
      )}
      {training.error && (
        <p className="error" role="alert" data-testid="train-error">
          {training.error}
        </p>
      )}
      {training.result?.stopped && (
        <p className="muted" data-testid="train-stopped">
          Stopped at step {training.result.stopped.step}: {training.result.stopped.message}
        </p>
      )}
      {training.steps.length > 0 && (
        <table data-testid="train-steps">
          <caption className="visually-hidden">The last training steps</caption>
          <thead>
            <tr>
              <th scope="col">Step</th>
              <th scope="col" className="num">
                Retriever loss
              </th>
              <th scope="col" className="num">
                Generator loss
              </th>
              <th scope="col" className="num">
                Spearman
              </th>
              <th scope="col" className="num">
                ms
              </th>
            </tr>
          </thead>
          <tbody>
            {training.steps.slice(-10).map((s) => (
              <tr key={s.step} data-testid="train-step-row">
                <th scope="row">{s.step}</th>
                <td className="num">{num(s.loss.retriever)}</td>
                <td className="num">{num(s.loss.generator)}</td>
                <td className="num">{num(s.alignment.spearman, 3)}</td>
                <td className="num">{s.ms.toFixed(0)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {training.evals.length > 0 && (
        <table data-testid="train-evals">
          <caption>Evaluations (held-out questions)</caption>
          <thead>
            <tr>
              <th scope="col">Step</th>
              <th scope="col">Split</th>
              <th scope="col" className="num">
                Accuracy, no documents
              </th>
              <th scope="col" className="num">
                Retrieved
              </th>
              <th scope="col" className="num">
                Oracle
              </th>
              <th scope="col" className="num">
                Recall@5
              </th>
              <th scope="col" className="num">
                Spearman
              </th>
            </tr>
          </thead>
          <tbody>
            {training.evals.map((ev) => (
              <tr key={`${ev.split}-${ev.step}`} data-testid="train-eval-row">
                <th scope="row">{ev.step}</th>
                <td>{ev.split}</td>
                <td className="num">{pct(ev.result.accuracy.none)}</td>
                <td className="num">{pct(ev.result.accuracy.retrieved)}</td>
                <td className="num">{pct(ev.result.accuracy.oracle)}</td>
                <td className="num">{num(ev.result.recall[5], 3)}</td>
                <td className="num">{num(ev.result.alignment.spearman, 3)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

const STATUS_TEXT: Record<string, string> = {
  idle: 'Not started',
  running: 'Training…',
  done: 'Done',
  error: 'Failed',
  stopped: 'Stopped',
};

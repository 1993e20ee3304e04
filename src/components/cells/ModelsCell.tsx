// The Models cell (connected): load the retriever and the generator from a Hugging Face hub id, a URL or a
// local folder (folder picker, directory input, or drag and drop), watch the download, see what
// was loaded, and try each one: generate a continuation, or score documents against a query. The
// notebook remembers each source (a local folder by name), so Run reloads them after a page reload.

import { useRef, useState, type DragEvent } from 'react';
import { formatBytes } from '../../core/format';
import { filesFromDataTransfer, type FolderEntry } from '../../models/sources';
import { useStore } from '../../store';
import { modelSource, withFrozenDtype, type ModelState } from '../../store/modelsSlice';
import type { ModelRole, ModelSourceSpec } from '../../worker/protocol';
import { MODEL_REF, type ModelRef, type ModelsCell as ModelsCellConfig } from '../../notebook/schema';
import { CellFrame } from './CellFrame';
import { FieldError, schemaProblem } from './FieldError';
import { useConfirmedRun } from './ConfirmSources';

const EXAMPLES: Record<ModelRole, string> = {
  retriever: 'colbert-ir/colbertv2.0',
  generator: 'HuggingFaceTB/SmolLM2-135M',
};

/** FileList of <input webkitdirectory> -> entries relative to the picked folder (structured-cloneable). */
function entriesFromFileList(files: FileList): FolderEntry[] {
  const list = Array.from(files);
  const rel = list.map((f) => f.webkitRelativePath || f.name);
  const top = rel[0]?.split('/')[0];
  const strip = top !== undefined && rel.every((p) => p.startsWith(top + '/'));
  return list.map((file, i) => ({ path: strip ? rel[i]!.slice(top!.length + 1) : rel[i]!, file }));
}

const describeRef = (ref: ModelRef): string =>
  ref.kind === 'demo'
    ? ref.model === 'dense-retriever'
      ? 'the demo dense retriever'
      : 'the demo model'
    : ref.kind === 'hub'
      ? `${ref.repo}${ref.revision && ref.revision !== 'main' ? `@${ref.revision}` : ''} (hub)`
      : ref.kind === 'url'
        ? ref.url
        : `local folder “${ref.label}” (pick it again to reload)`;

export function ModelsCell({ cell, index, count }: { cell: ModelsCellConfig; index: number; count: number }) {
  const models = useStore((s) => s.models);
  const loadModel = useStore((s) => s.loadModel);
  const busy = models.retriever.status === 'loading' || models.generator.status === 'loading';
  const loadDemo = (): void => {
    for (const role of ['retriever', 'generator'] as const)
      void loadModel(role, modelSource(role, { kind: 'demo' })!, cell[role].frozenDtype);
  };
  const loadDemoDense = (): void =>
    void loadModel(
      'retriever',
      modelSource('retriever', { kind: 'demo', model: 'dense-retriever' })!,
      cell.retriever.frozenDtype,
    );
  const sources = { retriever: modelSource('retriever', cell.retriever), generator: modelSource('generator', cell.generator) };
  const ready = (['retriever', 'generator'] as const).filter((r) => models[r].status === 'ready').length;
  const loadBoth = (): void => {
    for (const role of ['retriever', 'generator'] as const) void loadModel(role, sources[role]!, cell[role].frozenDtype);
  };
  const gate = useConfirmedRun(cell, loadBoth);
  return (
    <CellFrame
      id={cell.id}
      kind="models"
      index={index}
      count={count}
      status={
        busy
          ? { text: 'loading…', tone: 'busy' }
          : ready === 2
            ? { text: 'both loaded', tone: 'ok' }
            : { text: `${ready} of 2 loaded` }
      }
      actions={
        <button
          type="button"
          aria-label="Run the Models cell"
          disabled={busy || !sources.retriever || !sources.generator}
          onClick={gate.start}
        >
          Run
        </button>
      }
    >
      {gate.panel}
      <p className="muted" data-testid="models-source">
        Retriever: {describeRef(cell.retriever)}; generator: {describeRef(cell.generator)}.
      </p>
      <p className="muted">
        A hub id downloads from huggingface.co (cached in the browser, so a reload downloads nothing); a URL reads any folder
        served over HTTP; a local folder needs config.json, tokenizer.json and the .safetensors weights.
      </p>
      <div className="toolbar">
        <button type="button" disabled={busy} onClick={loadDemo}>
          Load the demo models
        </button>
        <span className="muted">a tiny ColBERT and a tiny Llama made for the demo set (under 2 MB, no download)</span>
        <button type="button" disabled={busy} onClick={loadDemoDense}>
          Demo dense retriever
        </button>
        <span className="muted">the demo Llama as a BMRetriever-style dense retriever (one vector per passage)</span>
      </div>
      <div className="model-grid">
        <ModelLoader role="retriever" state={models.retriever} remembered={cell.retriever} />
        <ModelLoader role="generator" state={models.generator} remembered={cell.generator} />
      </div>
      <TryModels />
    </CellFrame>
  );
}

/** What the half-size option keeps trainable, per role (the rest trains through LoRA or not at all). */
const HALF_HINT: Record<ModelRole, string> = {
  retriever: 'the encoder trains through LoRA; the projection stays f32',
  generator: 'trains through LoRA and norms; embeddings stay frozen',
};

function ModelLoader({ role, state, remembered }: { role: ModelRole; state: ModelState; remembered: ModelRef }) {
  const loadModel = useStore((s) => s.loadModel);
  const rememberModel = useStore((s) => s.rememberModel);
  // Kept in the notebook's Models cell, so every load (this loader, Run, the demo button, a reload) reads it.
  const half = remembered.frozenDtype === 'f16';
  const [repo, setRepo] = useState('');
  const [revision, setRevision] = useState('main');
  const [token, setToken] = useState('');
  const [url, setUrl] = useState('');
  const [dragging, setDragging] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const busy = state.status === 'loading';
  const load = (source: ModelSourceSpec): void => void loadModel(role, source, half ? 'f16' : 'f32');
  // Checked as the notebook will keep them (MODEL_REF), at the field, before anything is fetched.
  const repoBad = repo.trim() ? schemaProblem(MODEL_REF, { kind: 'hub', repo: repo.trim() }) : null;
  const urlBad = url.trim() ? schemaProblem(MODEL_REF, { kind: 'url', url: url.trim() }) : null;
  const title = role === 'retriever' ? 'Retriever (BERT / ColBERT)' : 'Generator (Llama, SmolLM, Qwen2)';

  const pickFolder = async (): Promise<void> => {
    const picker = (window as unknown as { showDirectoryPicker?: () => Promise<FileSystemDirectoryHandle> }).showDirectoryPicker;
    if (!picker) return input.current?.click();
    try {
      const handle = await picker();
      load({ kind: 'folder', entries: handle, label: handle.name });
    } catch (e) {
      if ((e as Error).name !== 'AbortError') throw e; // the user closed the picker
    }
  };

  const onDrop = async (ev: DragEvent<HTMLDivElement>): Promise<void> => {
    ev.preventDefault();
    setDragging(false);
    const entries = await filesFromDataTransfer(ev.dataTransfer);
    if (entries.length) load({ kind: 'folder', entries, label: 'dropped folder' });
  };

  return (
    <div
      className={`model-loader${dragging ? ' dragging' : ''}`}
      data-testid={`model-${role}`}
      data-status={state.status}
      onDragOver={(ev) => {
        ev.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={(ev) => void onDrop(ev)}
    >
      <h3>{title}</h3>
      <form
        onSubmit={(ev) => {
          ev.preventDefault();
          if (repo.trim() && !repoBad)
            load({ kind: 'hub', repo: repo.trim(), revision: revision.trim() || 'main', token: token.trim() });
        }}
      >
        <label>
          Hub id
          <input
            value={repo}
            onChange={(e) => setRepo(e.target.value)}
            placeholder={EXAMPLES[role]}
            aria-label={`${role} hub id`}
            aria-invalid={repoBad !== null}
            aria-describedby={repoBad ? `${role}-error-hub` : undefined}
            data-testid={`model-hub-${role}`}
          />
          {repoBad && (
            <FieldError id={`${role}-error-hub`} testId={`model-error-hub-${role}`}>
              {repoBad}
            </FieldError>
          )}
        </label>
        <label>
          Revision
          <input value={revision} onChange={(e) => setRevision(e.target.value)} aria-label={`${role} revision`} size={8} />
        </label>
        <label>
          Token (gated repos)
          <input
            type="password"
            value={token}
            onChange={(e) => setToken(e.target.value)}
            aria-label={`${role} hub token`}
            placeholder="hf_…"
            autoComplete="off"
            size={10}
          />
        </label>
        <button type="submit" disabled={busy || !repo.trim() || repoBad !== null}>
          Load from hub
        </button>
      </form>
      <form
        onSubmit={(ev) => {
          ev.preventDefault();
          if (url.trim() && !urlBad) load({ kind: 'url', url: url.trim() });
        }}
      >
        <label>
          URL
          <input
            value={url}
            onChange={(e) => setUrl(e.target.value)}
            placeholder="https://…/model-folder"
            aria-label={`${role} URL`}
            aria-invalid={urlBad !== null}
            aria-describedby={urlBad ? `${role}-error-url` : undefined}
            data-testid={`model-url-${role}`}
          />
          {urlBad && (
            <FieldError id={`${role}-error-url`} testId={`model-error-url-${role}`}>
              {urlBad}
            </FieldError>
          )}
        </label>
        <button type="submit" disabled={busy || !url.trim() || urlBad !== null}>
          Load from URL
        </button>
      </form>
      <label
        className="row"
        title={`Frozen matrices stored as IEEE halves, two per u32: half the GPU memory; ${HALF_HINT[role]}`}
      >
        <input
          type="checkbox"
          checked={half}
          onChange={(e) => rememberModel(role, withFrozenDtype(remembered, e.target.checked ? 'f16' : 'f32'))}
          data-testid={`model-half-${role}`}
          aria-label={`${role} half-size frozen weights`}
        />
        Half-size frozen weights (f16; {HALF_HINT[role]})
      </label>
      <div className="row">
        <button type="button" disabled={busy} onClick={() => void pickFolder()}>
          Choose folder…
        </button>
        <span className="muted">or drop a model folder here</span>
        <input
          ref={input}
          type="file"
          hidden
          data-testid={`folder-input-${role}`}
          aria-label={`${role} folder`}
          {...{ webkitdirectory: '', directory: '' }}
          multiple
          onChange={(e) => {
            const files = e.target.files;
            if (files?.length)
              load({
                kind: 'folder',
                entries: entriesFromFileList(files),
                label: files[0]!.webkitRelativePath.split('/')[0] || 'folder',
              });
            e.target.value = '';
          }}
        />
      </div>
      {busy && (
        // Progress in bytes. The message carries the ETA of the download's own meter
        // (src/models/sources/stream.ts), the one estimate shown: ProgressLine would add a second,
        // from its own mean rate, beside it.
        <div data-testid={`model-progress-${role}`} className="row progress-line">
          <progress value={state.progress?.done ?? 0} max={state.progress?.total || undefined} aria-label={`${role} download`} />
          <span className="muted">{state.progress?.message ?? 'reading config…'}</span>
          <button type="button" onClick={() => useStore.getState().stopModel(role)} data-testid={`model-stop-${role}`}>
            Stop
          </button>
        </div>
      )}
      {state.error && (
        <p className="error" role="alert" data-testid={`model-error-${role}`} data-error-class={state.errorClass ?? ''}>
          {state.error}
        </p>
      )}
      {state.summary && (
        <dl className="model-summary" data-testid={`model-summary-${role}`}>
          <dt>Loaded</dt>
          <dd data-testid={`model-label-${role}`}>{state.summary.label}</dd>
          <dt>Architecture</dt>
          <dd data-testid={`model-arch-${role}`}>{state.summary.architecture}</dd>
          <dt>Size</dt>
          <dd>
            {state.summary.layers} layers, hidden {state.summary.hidden}, {state.summary.heads} heads
            {state.summary.kvHeads !== state.summary.heads ? ` (${state.summary.kvHeads} kv)` : ''}, vocab {state.summary.vocab}
          </dd>
          <dt>Parameters</dt>
          <dd data-testid={`model-params-${role}`}>{state.summary.params.toLocaleString('en-US')}</dd>
          {state.summary.weightsDtype === 'f16' ? (
            <>
              <dt>Weights</dt>
              <dd data-testid={`model-weights-${role}`}>
                {formatBytes(state.summary.memory.paramBytes)}, frozen matrices as f16 (half size; {HALF_HINT[role]})
              </dd>
            </>
          ) : (
            <>
              <dt>Memory to train all</dt>
              <dd data-testid={`model-weights-${role}`}>
                {formatBytes(state.summary.memory.paramBytes)} weights + {formatBytes(state.summary.memory.gradBytes)} grads +{' '}
                {formatBytes(state.summary.memory.optimizerBytes)} AdamW
              </dd>
            </>
          )}
          <dt>Tokenizer</dt>
          <dd>{state.summary.tokenizer}</dd>
          <dt>Load time</dt>
          <dd>{(state.summary.loadMs / 1000).toFixed(1)} s</dd>
        </dl>
      )}
    </div>
  );
}

function TryModels() {
  const models = useStore((s) => s.models);
  const tryGenerate = useStore((s) => s.tryGenerate);
  const tryRetrieve = useStore((s) => s.tryRetrieve);
  const [prompt, setPrompt] = useState('Question: What does insulin do?\nAnswer:');
  const [query, setQuery] = useState('What lowers blood sugar?');
  const [docs, setDocs] = useState('Insulin lowers blood sugar.\nFever is a high body temperature.');
  if (models.generator.status !== 'ready' && models.retriever.status !== 'ready') return null;
  const docList = docs.split('\n').filter((d) => d.trim());
  return (
    <div className="try-models">
      {models.generator.status === 'ready' && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void tryGenerate(prompt);
          }}
        >
          <label>
            Prompt
            <textarea value={prompt} onChange={(e) => setPrompt(e.target.value)} rows={2} aria-label="prompt" />
          </label>
          <button type="submit" disabled={models.busy}>
            Generate
          </button>
          {models.generated && (
            <p data-testid="generated">
              <span className="muted">
                ({models.generated.tokens} tokens, {models.generated.ms.toFixed(0)} ms)
              </span>{' '}
              {models.generated.text}
            </p>
          )}
        </form>
      )}
      {models.retriever.status === 'ready' && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void tryRetrieve(query, docList);
          }}
        >
          <label>
            Query
            <input value={query} onChange={(e) => setQuery(e.target.value)} aria-label="query" />
          </label>
          <label>
            Documents, one per line
            <textarea value={docs} onChange={(e) => setDocs(e.target.value)} rows={3} aria-label="documents" />
          </label>
          <button type="submit" disabled={models.busy || docList.length === 0}>
            Score
          </button>
          {models.retrieved && (
            <ol data-testid="retrieved">
              {models.retrieved.scores.map((s, i) => (
                <li key={i}>
                  <span className="score">{s.toFixed(3)}</span> {models.retrieved!.docs[i]}
                </li>
              ))}
            </ol>
          )}
        </form>
      )}
      {models.tryError && (
        <p className="error" role="alert">
          {models.tryError}
        </p>
      )}
    </div>
  );
}

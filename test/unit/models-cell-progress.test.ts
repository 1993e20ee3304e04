// The Models cell's download line shows one ETA: the one in the message, from the download's own
// meter (src/models/sources/stream.ts, passed through the worker's progress message). It used to
// sit next to ProgressLine's second estimate from its own mean rate ("…, 9 s left · about done").
// Rendered to static markup in Node with the store set to a download in flight.
import { describe, expect, it } from 'vitest';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { useStore } from '../../src/store';
import { ModelsCell } from '../../src/components/cells/ModelsCell';

describe('D: the Models cell has one progress meter', () => {
  it('a download in flight shows its bytes and exactly one ETA', () => {
    const message = 'model.safetensors: 10.0 MiB of 100.0 MiB, 9 s left (0/1 files)';
    // Server rendering reads the store's initial state (this file's own store instance).
    const s = useStore.getInitialState();
    s.models = {
      ...s.models,
      retriever: { ...s.models.retriever, status: 'loading', progress: { done: 10, total: 100, message } },
    };
    const html = renderToStaticMarkup(
      createElement(ModelsCell, {
        cell: { id: 'c1', kind: 'models', retriever: { kind: 'hub', repo: 'org/r' }, generator: { kind: 'hub', repo: 'org/g' } },
        index: 0,
        count: 1,
      }),
    );
    const line = /<div data-testid="model-progress-retriever"[^>]*>(.*?)<\/div>/.exec(html);
    expect(line, html.slice(0, 500)).not.toBeNull();
    // The line's one button (Stop) aside, its text is the message alone.
    expect(line![1]!.match(/<button[^>]*>Stop<\/button>/g)).toHaveLength(1);
    const text = line![1]!.replace(/<button[^>]*>.*?<\/button>/g, '').replace(/<[^>]+>/g, '');
    expect(text).toBe(message);
    expect(text.match(/left|about/g)).toEqual(['left']);
    expect(line![1]).toMatch(/<progress value="10" max="100" aria-label="retriever download">/);
    expect(html).not.toContain('model-progress-generator'); // only a loading model has a line
  });
});

// Renders a note's markdown. Presentational: the text in, sanitized HTML out (src/components/markdown.ts).

import { useMemo } from 'react';
import { renderMarkdown } from './renderMarkdown';

export function Markdown({ text, className }: { text: string; className?: string }) {
  const html = useMemo(() => renderMarkdown(text), [text]);
  // dangerouslySetInnerHTML is safe here because `html` only ever comes from renderMarkdown, which
  // runs DOMPurify with an allow-list over marked's output: no scripts, event handlers, styles,
  // frames or javascript:/data: links survive, whatever the text (an imported notebook's too) holds.
  // Never pass anything else into it.
  return <div className={className ? `markdown ${className}` : 'markdown'} dangerouslySetInnerHTML={{ __html: html }} />;
}

// Markdown for notes (notebook text cells, imported notebooks included): GitHub-flavoured markdown
// through marked, then DOMPurify with an allow-list, so what comes out is inert HTML whatever the
// text holds. Notes are data from anyone (an imported notebook is a file from the internet): no
// scripts, event handlers, styles, forms, frames, SVG or MathML; links only to http(s), mailto or
// relative addresses and always opened in a new tab without an opener or referrer; images only
// from this origin or as inline raster data: a remote image would be a tracking beacon, and the
// Content-Security-Policy (img-src 'self' data: blob:) would block it anyway.
// Needs a DOM (DOMPurify parses with the browser's parser): call it in the page, not in Node.

import createDOMPurify, { type DOMPurify } from 'dompurify';
import { Marked } from 'marked';

const ALLOWED_TAGS = [
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'p',
  'br',
  'hr',
  'blockquote',
  'ul',
  'ol',
  'li',
  'em',
  'strong',
  'del',
  's',
  'code',
  'pre',
  'table',
  'thead',
  'tbody',
  'tr',
  'th',
  'td',
  'a',
  'img',
];
// No id or name (DOM clobbering), no style, no class except code's language-* (checked below).
const ALLOWED_ATTR = ['href', 'title', 'alt', 'src', 'align', 'start', 'class'];
// http(s), mailto, and addresses without a scheme (relative paths, #fragments); the pattern is
// DOMPurify's default with fewer schemes. Everything else (javascript:, data:, vbscript:, ...) is dropped.
const ALLOWED_URI_REGEXP = /^(?:(?:https?|mailto):|[^a-z]|[a-z+.-]+(?:[^a-z+.\-:]|$))/i;
const RASTER_DATA_URL = /^data:image\/(?:png|jpeg|gif|webp);base64,[a-z0-9+/=\s]*$/i;
const CODE_LANGUAGE_CLASS = /^language-[\w+-]+$/;

// marked's own instance: options set here do not leak into other users of the global `marked`.
// GFM task-list items become a ballot-box character instead of a (disabled) <input>: no form controls in notes.
const markdown = new Marked({
  gfm: true,
  async: false,
  renderer: {
    checkbox: ({ checked }) => (checked ? '\u2611 ' : '\u2610 '),
  },
});

function sameOriginImage(src: string): boolean {
  if (RASTER_DATA_URL.test(src)) return true;
  try {
    return new URL(src, document.baseURI).origin === window.location.origin;
  } catch {
    return false;
  }
}

let purifier: DOMPurify | null = null;

/** DOMPurify's own instance with MedRank's hooks (hooks on the default instance would apply to every caller). */
function getPurifier(): DOMPurify {
  if (purifier) return purifier;
  if (typeof window === 'undefined') throw new Error('renderMarkdown needs a DOM: call it in the browser, not in Node');
  const p = createDOMPurify(window);
  p.addHook('uponSanitizeAttribute', (node, data) => {
    if (data.attrName === 'class') data.keepAttr = node.nodeName === 'CODE' && CODE_LANGUAGE_CLASS.test(data.attrValue);
  });
  p.addHook('afterSanitizeAttributes', (node) => {
    if (node.nodeName === 'A' && node.hasAttribute('href')) {
      node.setAttribute('target', '_blank');
      node.setAttribute('rel', 'noopener noreferrer');
    }
    if (node.nodeName === 'IMG') {
      const src = node.getAttribute('src');
      if (src !== null && !sameOriginImage(src)) node.removeAttribute('src');
    }
  });
  purifier = p;
  return p;
}

/** Markdown (GFM) to sanitized HTML, safe to put into the page as is. */
export function renderMarkdown(text: string): string {
  const html = markdown.parse(text, { async: false });
  return getPurifier().sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR,
    ALLOWED_URI_REGEXP,
    ALLOW_DATA_ATTR: false,
    ALLOW_ARIA_ATTR: false,
    ALLOW_UNKNOWN_PROTOCOLS: false,
    RETURN_TRUSTED_TYPE: false,
  });
}

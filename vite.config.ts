// Vite config for the app: React, a fixed dev/preview address, cross-origin isolation and the
// Content-Security-Policy (docs/security.md).
// COOP + COEP make the page crossOriginIsolated, which onnxruntime-web's wasm backend needs for
// threads (SharedArrayBuffer). The engine worker is an ES module worker.
// CSP: no inline scripts, no eval; only WebAssembly compilation ('wasm-unsafe-eval'). The dev server
// and `vite preview` send it as a header (which also covers the engine worker: a dedicated worker
// gets the policy of its own script response); the build writes it into index.html as a
// <meta http-equiv> for static hosts that send no headers. In dev, Vite and @vitejs/plugin-react
// inject an inline React Refresh preamble and <style> tags from JS: they carry a nonce made at
// each server start (html.cspNonce), which the dev header allows. The build has no nonce and no
// inline code at all; noInlineCode() fails the build if that ever changes.

import { randomBytes } from 'node:crypto';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/** The policy, one directive per entry. `nonce` only in dev; `header` adds what a <meta> may not carry. */
export function contentSecurityPolicy({ nonce, header }: { nonce?: string; header: boolean }): string {
  const n = nonce ? ` 'nonce-${nonce}'` : '';
  const directives = [
    "default-src 'self'",
    `script-src 'self' 'wasm-unsafe-eval'${n}`,
    // The engine worker is a same-origin module; onnxruntime-web may start its threads from blob: URLs.
    "worker-src 'self' blob:",
    // Models come from the Hugging Face hub and its CDNs or any https URL a user gives, and from
    // local model servers (http on loopback: tests, dev, a folder served with `python -m http.server`).
    "connect-src 'self' https: http://127.0.0.1:* http://localhost:*",
    "img-src 'self' data: blob:",
    // React's style props go through the CSSOM, which style-src does not govern.
    `style-src 'self'${n}`,
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'none'",
  ];
  // frame-ancestors is ignored (and warned about) in a <meta> policy.
  if (header) directives.push("frame-ancestors 'none'");
  return directives.join('; ');
}

/** Build only: the policy as a <meta> right after the charset, before any script or stylesheet. */
function cspMeta(): Plugin {
  return {
    name: 'medrank:csp-meta',
    apply: 'build',
    transformIndexHtml: {
      order: 'post',
      handler(html) {
        const charset = /<meta charset="[^"]*"\s*\/?>/i;
        if (!charset.test(html)) throw new Error('index.html needs <meta charset> first in <head>: the CSP <meta> goes after it');
        // The policy has no '"', '&' or '<' (checked), so it needs no escaping inside a double-quoted attribute.
        const policy = contentSecurityPolicy({ header: false });
        if (/["&<]/.test(policy)) throw new Error(`the CSP cannot go into an attribute as is: ${policy}`);
        return html.replace(charset, (m) => `${m}\n    <meta http-equiv="Content-Security-Policy" content="${policy}" />`);
      },
    },
  };
}

/** Build only: refuse an index.html with inline script, <style> or style attributes (the policy would block them). */
function noInlineCode(): Plugin {
  return {
    name: 'medrank:no-inline-code',
    apply: 'build',
    enforce: 'post',
    generateBundle(_options, bundle) {
      for (const file of Object.values(bundle)) {
        if (file.type !== 'asset' || !file.fileName.endsWith('.html')) continue;
        const html = typeof file.source === 'string' ? file.source : new TextDecoder().decode(file.source);
        const inline = [
          ...html.matchAll(/<script\b(?![^>]*\bsrc=)[^>]*>/gi),
          ...html.matchAll(/<style\b[^>]*>/gi),
          ...html.matchAll(/<[a-z][^>]*\sstyle=/gi),
          ...html.matchAll(/<[a-z][^>]*\son[a-z]+=/gi),
        ];
        if (inline.length > 0)
          this.error(
            `${file.fileName} has inline code the Content-Security-Policy blocks: ${inline.map((m) => m[0]).join(', ')}. ` +
              'Move it into a module or a stylesheet.',
          );
      }
    },
  };
}

export default defineConfig(({ command, isPreview }) => {
  const dev = command === 'serve' && !isPreview;
  // A fresh nonce per dev-server start; never in the build, where a fixed nonce would be worthless.
  const nonce = dev ? randomBytes(18).toString('base64') : undefined;
  const csp = { 'Content-Security-Policy': contentSecurityPolicy({ nonce, header: true }) };
  return {
    plugins: [react(), cspMeta(), noInlineCode()],
    html: { cspNonce: nonce },
    // No SPA fallback: a missing file must be a 404, not index.html, or probing a model folder for
    // optional files (model.safetensors.index.json) over HTTP would find HTML where JSON should be.
    appType: 'mpa',
    server: { host: '127.0.0.1', port: 5173, strictPort: true, headers: { ...isolation, ...csp } },
    preview: { host: '127.0.0.1', port: 5173, strictPort: true, headers: { ...isolation, ...csp } },
    // Error classes cross the worker boundary by name (errorResponse sends err.name, which
    // MedRankError takes from the class): the minifier must keep class names or the page cannot
    // tell a missing WebGPU from a lost device.
    build: { rolldownOptions: { output: { keepNames: true } } },
    worker: { format: 'es', rolldownOptions: { output: { keepNames: true } } },
  };
});

// Vite config for the app: React, a fixed dev/preview address, and cross-origin isolation.
// COOP + COEP make the page crossOriginIsolated, which onnxruntime-web's wasm backend needs for
// threads (SharedArrayBuffer). The engine worker is an ES module worker.

import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  plugins: [react()],
  // No SPA fallback: a missing file must be a 404, not index.html, or probing a model folder for
  // optional files (model.safetensors.index.json) over HTTP would find HTML where JSON should be.
  appType: 'mpa',
  server: { host: '127.0.0.1', port: 5173, strictPort: true, headers: isolation },
  preview: { host: '127.0.0.1', port: 5173, strictPort: true, headers: isolation },
  worker: { format: 'es' },
});

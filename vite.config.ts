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
  server: { host: '127.0.0.1', port: 5173, strictPort: true, headers: isolation },
  preview: { host: '127.0.0.1', port: 5173, strictPort: true, headers: isolation },
  worker: { format: 'es' },
});

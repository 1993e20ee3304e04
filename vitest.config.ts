import { defineConfig } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './scripts/lib/chromium.ts';

// Two projects:
// - unit: plain logic (CPU twins, shapes, protocol) in Node.
// - gpu: every kernel and op, in headless Chromium on its WebGPU adapter (SwiftShader on a
//   machine without a GPU). Node's Dawn (npm `webgpu` 0.6.2) crashes intermittently with
//   SwiftShader and lavapipe on this machine kind after a few compute dispatches (see
//   docs/testing.md), so GPU tests run where the product runs: in Chromium.
export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    projects: [
      // Some unit tests spawn tsx processes: allow for a loaded machine.
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node', testTimeout: 30_000 } },
      {
        test: {
          name: 'gpu',
          include: ['test/gpu/**/*.test.ts'],
          testTimeout: 300_000,
          fileParallelism: false, // SwiftShader already uses every core
          globalSetup: ['test/setup/hub-server.ts'], // a stand-in Hugging Face hub for test/gpu/sources.test.ts
          browser: {
            enabled: true,
            headless: true,
            screenshotFailures: false,
            provider: playwright({ launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS } }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
    ],
  },
});

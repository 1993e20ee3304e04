// How MedRank launches Chromium for its tests and benchmarks (Playwright, vitest browser mode).
// The system Chromium is used, never a downloaded one: CHROME_PATH overrides /usr/bin/chromium.

export const CHROMIUM_PATH = process.env.CHROME_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu', // without it requestAdapter() returns null on Linux
  '--enable-features=Vulkan',
  '--no-sandbox', // CI runs as root
  '--disable-background-networking', // the network is closed: no update or telemetry calls
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

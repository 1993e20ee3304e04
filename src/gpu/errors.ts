// Typed errors of the GPU layer. Each one says what went wrong and what the user can do next,
// so the app can show it as-is and tests can match on the class.

import { MedRankError } from '../core/errors';
import { formatBytes } from '../core/format';

/** No WebGPU at all in this browser or runtime. */
export class WebGpuUnavailableError extends MedRankError {
  constructor(detail = '') {
    super(
      'WebGPU is not available here' +
        (detail ? ` (${detail})` : '') +
        '. Use Chrome or Edge 113+ on Windows, macOS or ChromeOS; on Linux start Chrome with ' +
        '--enable-unsafe-webgpu (or enable chrome://flags/#enable-unsafe-webgpu). ' +
        'Safari 26+ and Firefox 141+ on Windows also work. The page must be served over https or localhost.',
    );
  }
}

/** navigator.gpu exists but no adapter was returned (blocklisted GPU, disabled flag, headless without the flag). */
export class AdapterUnavailableError extends MedRankError {
  constructor() {
    super(
      'WebGPU is present but returned no adapter. Your GPU or driver may be blocklisted: ' +
        'check chrome://gpu, update the driver, or start Chrome with --enable-unsafe-webgpu ' +
        '(headless Chromium needs that flag too).',
    );
  }
}

/** The device was lost (driver reset, tab in background too long, device.destroy()). */
export class DeviceLostError extends MedRankError {
  constructor(
    readonly reason: string,
    detail: string,
  ) {
    super(
      `The GPU device was lost (${reason}${detail ? `: ${detail}` : ''}). ` +
        'Nothing saved is lost: reload the page to get a new device, run the setup cells again, ' +
        'then resume the run from its last checkpoint.',
    );
  }
}

/** A WebGPU validation or internal error that escaped to onuncapturederror. */
export class GpuValidationError extends MedRankError {
  constructor(detail: string) {
    super(`A GPU command was rejected: ${detail}. This is a MedRank bug; please report it with the text above.`);
  }
}

/** Allocation failed on the device. */
export class GpuOutOfMemoryError extends MedRankError {
  constructor(bytes: number, detail = '') {
    super(
      `The GPU ran out of memory${bytes > 0 ? ` allocating ${formatBytes(bytes)}` : ''}${detail ? ` (${detail})` : ''}. ` +
        'Use a smaller batch, shorter sequences or a smaller model, or close other GPU-heavy tabs.',
    );
  }
}

/** A single buffer larger than the adapter allows. */
export class BufferLimitError extends MedRankError {
  constructor(
    readonly bytes: number,
    readonly limit: number,
    what: string,
  ) {
    super(
      `${what} needs ${formatBytes(bytes)} in one GPU buffer, but this adapter allows at most ${formatBytes(limit)} ` +
        '(maxStorageBufferBindingSize). Reduce the batch or sequence length, or split the tensor.',
    );
  }
}

/** A kernel name that has no .wgsl file. */
export class KernelNotFoundError extends MedRankError {
  constructor(name: string, known: string[]) {
    super(`No kernel named "${name}" in kernels/. Known kernels: ${known.sort().join(', ')}.`);
  }
}

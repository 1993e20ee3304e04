// The GPU layer and the engine's contracts: limits, caching, pooling, memory scopes, and the
// typed errors a user sees when something goes wrong.
import { afterAll, describe, expect, it } from 'vitest';
import { acquireGpu, packUniforms } from '../../src/gpu/device';
import {
  BufferLimitError,
  DeviceLostError,
  GpuValidationError,
  KernelNotFoundError,
  WebGpuUnavailableError,
  AdapterUnavailableError,
} from '../../src/gpu/errors';
import { viteKernels } from '../../src/gpu/kernels-vite';
import { Engine, ShapeError } from '../../src/tensor/tensor';
import { add, mul, scale } from '../../src/tensor/ops/binary';
import { matmul } from '../../src/tensor/ops/matmul';
import { destroyEngine, getEngine } from './helpers';

afterAll(destroyEngine);

describe('device and limits', () => {
  it("requests the adapter's own limits, not the defaults, and reports features", async () => {
    const e = await getEngine();
    const { info } = e.gpu;
    const adapter = (await navigator.gpu.requestAdapter())!;
    expect(info.limits.maxStorageBufferBindingSize).toBe(adapter.limits.maxStorageBufferBindingSize);
    expect(info.limits.maxBufferSize).toBe(adapter.limits.maxBufferSize);
    expect(info.limits.maxComputeWorkgroupStorageSize).toBe(adapter.limits.maxComputeWorkgroupStorageSize);
    // SwiftShader's are above WebGPU's defaults (128 MiB, 16 KiB): proof we asked for more.
    expect(info.limits.maxStorageBufferBindingSize).toBeGreaterThan(128 * 2 ** 20);
    expect(info.hasTimestamps).toBe(info.features.includes('timestamp-query'));
    expect(info.hasF16).toBe(info.features.includes('shader-f16'));
    expect(info.vendor.length + info.architecture.length).toBeGreaterThan(0);
  });

  it('missing WebGPU and missing adapters give errors that say what to do', async () => {
    await expect(
      acquireGpu({ kernels: viteKernels, gpu: undefined as unknown as GPU })
        .then(() => 'ok')
        .catch((e) => e),
    ).resolves.not.toBeInstanceOf(WebGpuUnavailableError); // navigator.gpu exists here
    const noGpu = { requestAdapter: async () => null } as unknown as GPU;
    await expect(acquireGpu({ kernels: viteKernels, gpu: noGpu })).rejects.toThrow(AdapterUnavailableError);
    await expect(acquireGpu({ kernels: viteKernels, gpu: noGpu })).rejects.toThrow(/--enable-unsafe-webgpu/);
    expect(new WebGpuUnavailableError().message).toMatch(/Chrome or Edge 113\+.*--enable-unsafe-webgpu/s);
  });

  it('a tensor over maxStorageBufferBindingSize is refused before allocating, with the sizes', async () => {
    const e = await getEngine();
    const limit = e.gpu.maxBindingBytes;
    const n = Math.floor(limit / 4) + 1;
    expect(() => e.empty([n])).toThrow(BufferLimitError);
    expect(() => e.empty([n])).toThrow(/allows at most/);
  });

  it('bad shapes and data lengths are refused with the shape in the message', async () => {
    const e = await getEngine();
    expect(() => e.tensor([1, 2, 3], [2, 2])).toThrow(ShapeError);
    expect(() => e.tensor([1, 2, 3], [2, 2])).toThrow(/3 values do not fill shape \[2,2\]/);
    expect(() => e.empty([2, -1])).toThrow(/invalid shape/);
    expect(() => e.zeros([6]).reshape([4])).toThrow(/cannot reshape/);
  });

  it('an unknown kernel name lists the known ones', async () => {
    const e = await getEngine();
    expect(() => e.gpu.pipelines.get('no_such_kernel')).toThrow(KernelNotFoundError);
    expect(() => e.gpu.pipelines.get('no_such_kernel')).toThrow(/matmul_forward/);
  });
});

describe('pipeline cache and buffer pool', () => {
  it('compiles each kernel once per constant set', async () => {
    const e = await getEngine();
    const x = e.tensor([1, 2, 3, 4], [2, 2]);
    matmul(x, x);
    const before = e.gpu.pipelines.compiles;
    for (let i = 0; i < 5; i++) matmul(x, x);
    expect(e.gpu.pipelines.compiles).toBe(before);
    matmul(x, x, { transA: true }); // new constants: one more pipeline
    expect(e.gpu.pipelines.compiles).toBe(before + 1);
    await e.gpu.sync();
  });

  it('reuses released buffers: a repeated step allocates nothing new', async () => {
    const e = await getEngine();
    const step = () =>
      e.scope(() => {
        const a = e.tensor(new Float32Array(1000).fill(1), [10, 100]);
        return add(mul(a, a), scale(a, 2)).dispose();
      });
    step();
    await e.gpu.sync();
    const total = e.gpu.pool.totalBytes;
    const live = e.gpu.pool.liveCount;
    for (let i = 0; i < 5; i++) step();
    await e.gpu.sync();
    expect(e.gpu.pool.totalBytes).toBe(total);
    expect(e.gpu.pool.liveCount).toBe(live);
  });

  it('scope() disposes intermediates but keeps what it returns', async () => {
    const e = await getEngine();
    const live0 = e.gpu.pool.liveCount;
    const out = e.scope(() => {
      const a = e.tensor([1, 2, 3], [3]);
      const b = scale(a, 2);
      return add(a, b);
    });
    expect(e.gpu.pool.liveCount).toBe(live0 + 1);
    expect(Array.from(await out.read())).toEqual([3, 6, 9]);
    out.dispose();
    expect(e.gpu.pool.liveCount).toBe(live0);
  });

  it('a training-style scope keeps taped tensors alive until backward has run', async () => {
    const e = await getEngine();
    const w = e.param([1, 2, 3], [3], 'w');
    const g = e.scope(() => {
      const y = e.scope(() => mul(w, e.tensor([4, 5, 6], [3]))); // inner scope ends before backward
      e.backward(y, e.full([3], 1));
      return w.grad!;
    });
    expect(Array.from(await g.read())).toEqual([4, 5, 6]);
  });
});

describe('timestamp-query timings', () => {
  it('reports GPU time per kernel label when the adapter has timestamp-query', async () => {
    const e = await getEngine();
    if (!e.gpu.timer) {
      expect(e.gpu.info.hasTimestamps).toBe(false);
      return;
    }
    const x = e.tensor(new Float32Array(128 * 128).fill(0.5), [128, 128]);
    await e.gpu.sync();
    e.gpu.timer.enabled = true;
    matmul(x, x);
    matmul(x, x);
    scale(x, 3);
    await e.gpu.sync();
    e.gpu.timer.enabled = false;
    const t = await e.gpu.timer.collect();
    // Labels are the kernel, its grid and its first uniform words (a matmul's M, N, K, batch).
    const mm = Object.entries(t).filter(([label]) => label.startsWith('matmul_forward '));
    expect(mm).toHaveLength(1); // both matmuls have one shape: one label
    expect(mm[0]![0]).toMatch(/^matmul_forward \d+x\d+x\d+ u=128,128,128/);
    expect(mm[0]![1].count).toBe(2);
    expect(
      Object.entries(t)
        .filter(([label]) => label.startsWith('binary_forward '))
        .map(([, v]) => v.count),
    ).toEqual([1]);
    expect(mm[0]![1].ms).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(mm[0]![1].ms)).toBe(true);
    expect(await e.gpu.timer.collect()).toEqual({}); // collected once
  });
});

describe('failures become typed errors, never hangs', () => {
  it('an invalid dispatch surfaces as GpuValidationError at the next sync point', async () => {
    const gpu = await acquireGpu({ kernels: viteKernels });
    const e = new Engine(gpu);
    const a = e.tensor([1, 2], [2]);
    // A uniform block smaller than the kernel's Params struct is a validation error.
    gpu.dispatch({
      kernel: 'binary_forward',
      constants: { OP: 0 },
      buffers: [a.buffer, a.buffer, a.buffer],
      uniforms: packUniforms([['u32', 2]]),
      workgroups: [1],
    });
    let caught: unknown = null;
    try {
      await gpu.sync();
      await new Promise((r) => setTimeout(r, 50));
      gpu.check();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(GpuValidationError);
    gpu.destroy();
  });

  it('a lost device rejects reads and later ops with DeviceLostError', async () => {
    const gpu = await acquireGpu({ kernels: viteKernels });
    const e = new Engine(gpu);
    const a = e.tensor([1, 2, 3], [3]);
    const pending = a.read();
    gpu.device.destroy();
    // The in-flight read either finished before the loss or rejects with the typed error.
    const outcome = await pending.then(
      () => 'resolved',
      (err: unknown) => err,
    );
    if (outcome !== 'resolved') expect(outcome).toBeInstanceOf(DeviceLostError);
    await gpu.device.lost;
    await expect(a.read()).rejects.toThrow(DeviceLostError);
    expect(() => scale(a, 2)).toThrow(DeviceLostError);
    expect(() => scale(a, 2)).toThrow(/reload the page/);
  });
});

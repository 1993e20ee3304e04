// Owns the WebGPU device: acquiring it (browser or Node/Dawn), its limits and features, the
// pipeline cache, the buffer pool, command batching, readback, and turning device loss and
// uncaptured errors into typed errors. Everything above this layer talks to `Gpu`, never to
// raw WebGPU objects it did not get from here.

import { BufferPool } from './buffers';
import {
  AdapterUnavailableError,
  BufferLimitError,
  DeviceLostError,
  GpuOutOfMemoryError,
  GpuValidationError,
  WebGpuUnavailableError,
} from './errors';
import { PipelineCache, type KernelSource, type KernelConstants } from './pipelines';
import { KernelTimer } from './timing';

export interface GpuInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  features: string[];
  limits: Record<string, number>;
  hasF16: boolean;
  hasTimestamps: boolean;
  hasSubgroups: boolean;
}

export interface AcquireOptions {
  /** Where kernel WGSL comes from: Vite `?raw` imports in the app, the file system in Node. */
  kernels: KernelSource;
  /** A GPU object to use instead of navigator.gpu (Node passes Dawn's here). */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
}

// Limits we ask for at the adapter's own maximum: the defaults (128 MiB bindings, 16 KiB
// workgroup memory) would make us refuse models the hardware can hold.
const RAISED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

const WANTED_FEATURES: GPUFeatureName[] = ['shader-f16', 'timestamp-query', 'subgroups' as GPUFeatureName];

/** Get a device in the browser (navigator.gpu) or in Node (pass Dawn's GPU as `gpu`). */
export async function acquireGpu(opts: AcquireOptions): Promise<Gpu> {
  const gpu = opts.gpu ?? (typeof navigator !== 'undefined' ? navigator.gpu : undefined);
  if (!gpu) throw new WebGpuUnavailableError(typeof navigator === 'undefined' ? 'no navigator' : 'navigator.gpu is undefined');
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) throw new AdapterUnavailableError();
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) {
    const v = (adapter.limits as unknown as Record<string, number>)[name];
    if (typeof v === 'number') requiredLimits[name] = v;
  }
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  return new Gpu(device, describeAdapter(adapter, device), opts.kernels);
}

function describeAdapter(adapter: GPUAdapter, device: GPUDevice): GpuInfo {
  const info = adapter.info ?? ({} as GPUAdapterInfo);
  const limits: Record<string, number> = {};
  // GPUSupportedLimits has getters on its prototype, so Object.keys() sees nothing.
  for (let p: object | null = device.limits; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const k of Object.getOwnPropertyNames(p)) {
      const v = (device.limits as unknown as Record<string, unknown>)[k];
      if (typeof v === 'number' && !(k in limits)) limits[k] = v;
    }
  }
  const features = [...device.features].map(String).sort();
  return {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    isFallbackAdapter: Boolean(
      (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ??
      (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter,
    ),
    features,
    limits,
    hasF16: device.features.has('shader-f16'),
    hasTimestamps: device.features.has('timestamp-query'),
    hasSubgroups: device.features.has('subgroups' as GPUFeatureName),
  };
}

export interface Binding {
  buffer: GPUBuffer;
  offset?: number;
  size?: number;
}

export interface DispatchSpec {
  kernel: string;
  constants?: KernelConstants;
  /** Storage buffers, in @binding order starting at 0 (group 0). */
  buffers: (GPUBuffer | Binding)[];
  /** Uniform parameters, packed as 32-bit words (u32/i32/f32), bound after the storage buffers. */
  uniforms?: ArrayBuffer;
  workgroups: [number, number?, number?];
  label?: string;
}

/** Uniform words: each entry is written as the given type in order. */
export function packUniforms(words: Array<['u32' | 'i32' | 'f32', number]>): ArrayBuffer {
  const n = Math.max(4, Math.ceil(words.length / 4) * 4); // uniform structs round to 16 bytes
  const buf = new ArrayBuffer(n * 4);
  const dv = new DataView(buf);
  words.forEach(([t, v], i) => {
    if (t === 'f32') dv.setFloat32(i * 4, v, true);
    else if (t === 'i32') dv.setInt32(i * 4, v, true);
    else dv.setUint32(i * 4, v, true);
  });
  return buf;
}

/** Per-kernel counts of GpuStats: dispatches and workgroups (x*y*z) recorded under that kernel name. */
export interface KernelCount {
  dispatches: number;
  workgroups: number;
}

/**
 * Running counts of what the device was asked to do, since creation (always on: a few integer adds
 * per call). Take a `snapshot()` before some work and `diff` after it for that work's share.
 */
export class GpuStats {
  dispatches = 0;
  /** Workgroups over all dispatches (x*y*z each). */
  workgroups = 0;
  /** queue.submit calls (flush with something recorded). */
  submits = 0;
  /** Readbacks (read(): a staging copy and a mapAsync each). */
  readbacks = 0;
  /** Bytes read back. */
  readBytes = 0;
  /** Uploads through write() (queue.writeBuffer of tensor data; uniforms are not counted). */
  writes = 0;
  /** Waits for the queue to drain (sync()). */
  syncs = 0;
  /** Dispatch and workgroup counts by kernel name. */
  readonly byKernel = new Map<string, KernelCount>();

  snapshot(): GpuStatsSnapshot {
    const { dispatches, workgroups, submits, readbacks, readBytes, writes, syncs } = this;
    const byKernel: Record<string, KernelCount> = {};
    for (const [k, v] of this.byKernel) byKernel[k] = { ...v };
    return { dispatches, workgroups, submits, readbacks, readBytes, writes, syncs, byKernel };
  }

  /** What happened between two snapshots (`before` taken first). */
  static diff(after: GpuStatsSnapshot, before: GpuStatsSnapshot): GpuStatsSnapshot {
    const byKernel: Record<string, KernelCount> = {};
    for (const [k, v] of Object.entries(after.byKernel)) {
      const b = before.byKernel[k] ?? { dispatches: 0, workgroups: 0 };
      if (v.dispatches > b.dispatches)
        byKernel[k] = { dispatches: v.dispatches - b.dispatches, workgroups: v.workgroups - b.workgroups };
    }
    return {
      dispatches: after.dispatches - before.dispatches,
      workgroups: after.workgroups - before.workgroups,
      submits: after.submits - before.submits,
      readbacks: after.readbacks - before.readbacks,
      readBytes: after.readBytes - before.readBytes,
      writes: after.writes - before.writes,
      syncs: after.syncs - before.syncs,
      byKernel,
    };
  }
}

export type GpuStatsSnapshot = Omit<GpuStats, 'byKernel' | 'snapshot'> & { byKernel: Record<string, KernelCount> };

/**
 * A timed dispatch's label while the kernel timer is on: the kernel (or its label), its grid and
 * its first four uniform words as u32 (a matmul's M, N, K, batch), so a profile can tell shapes apart.
 */
function profileLabel(spec: DispatchSpec, x: number, y: number, z: number): string {
  const u = spec.uniforms
    ? ` u=${Array.from(new Uint32Array(spec.uniforms, 0, Math.min(4, spec.uniforms.byteLength / 4))).join(',')}`
    : '';
  return `${spec.label ?? spec.kernel} ${x}x${y}x${z}${u}`;
}

export class Gpu {
  readonly pipelines: PipelineCache;
  readonly pool: BufferPool;
  readonly timer: KernelTimer | null;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private passTimed = false;
  private pendingUniforms: GPUBuffer[] = [];
  private lostError: DeviceLostError | null = null;
  private firstError: Error | null = null;
  /** Counts of dispatches, workgroups, submits, readbacks and uploads since creation. */
  readonly stats = new GpuStats();

  constructor(
    readonly device: GPUDevice,
    readonly info: GpuInfo,
    kernels: KernelSource,
  ) {
    this.pipelines = new PipelineCache(device, kernels);
    // Buffers are bound whole, so rounding up to a bucket must stay within the binding limit too.
    const l = this.info.limits;
    this.pool = new BufferPool(device, Math.min(l.maxBufferSize ?? 2 ** 28, l.maxStorageBufferBindingSize ?? 2 ** 27));
    this.timer = this.info.hasTimestamps ? new KernelTimer(device) : null;
    device.lost.then((e) => {
      this.lostError = new DeviceLostError(e.reason ?? 'unknown', e.message ?? '');
    });
    device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      const err = ev.error;
      const e =
        err instanceof GPUOutOfMemoryError || err?.constructor?.name === 'GPUOutOfMemoryError'
          ? new GpuOutOfMemoryError(0, err.message)
          : new GpuValidationError(err?.message ?? String(err));
      if (!this.firstError) this.firstError = e;
    };
  }

  get maxBindingBytes(): number {
    return this.info.limits.maxStorageBufferBindingSize ?? 2 ** 27;
  }

  /** Throws the typed error if the device was lost or a command failed; cheap, call at sync points. */
  check(): void {
    if (this.lostError) throw this.lostError;
    if (this.firstError) {
      const e = this.firstError;
      this.firstError = null;
      throw e;
    }
  }

  get isLost(): boolean {
    return this.lostError !== null;
  }

  /** A storage buffer of at least `bytes`, from the pool. Refuses sizes over the binding limit. */
  alloc(bytes: number, what = 'A tensor'): GPUBuffer {
    this.check();
    if (bytes > this.maxBindingBytes) throw new BufferLimitError(bytes, this.maxBindingBytes, what);
    return this.pool.acquire(bytes);
  }

  release(buf: GPUBuffer): void {
    this.pool.release(buf);
  }

  /**
   * Upload data. queue.writeBuffer lands before any command still in the unsubmitted encoder, so
   * a pending batch is submitted first: otherwise a pooled buffer released by an earlier op (and
   * still read by a recorded dispatch) would be overwritten before that dispatch ran.
   */
  write(buf: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    this.check();
    if (this.encoder) this.flush();
    this.device.queue.writeBuffer(buf, offset, data.buffer, data.byteOffset, data.byteLength);
    this.stats.writes++;
  }

  private currentEncoder(): GPUCommandEncoder {
    this.endPass();
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    return this.encoder;
  }

  /**
   * Consecutive dispatches share one compute pass: WebGPU makes each dispatch's storage writes
   * visible to the next within a pass, and one pass per dispatch costs ~2x in Chromium's
   * SwiftShader on small kernels. Timed dispatches get a pass each (timestamps are per pass).
   */
  private computePass(label: string): GPUComputePassEncoder {
    const timed = this.timer?.passDescriptor(label);
    if (this.pass && !timed) return this.pass;
    const enc = this.currentEncoder();
    this.pass = enc.beginComputePass(timed);
    this.passTimed = Boolean(timed);
    return this.pass;
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  /** Record one compute dispatch. Commands are batched and submitted by flush() or a readback. */
  dispatch(spec: DispatchSpec): void {
    this.check();
    const pipeline = this.pipelines.get(spec.kernel, spec.constants);
    // A GPUBuffer has no `buffer` field; a Binding (a sub-range) does.
    const entries: GPUBindGroupEntry[] = spec.buffers.map((b, i) =>
      'buffer' in b
        ? { binding: i, resource: { buffer: b.buffer, offset: b.offset, size: b.size } }
        : { binding: i, resource: { buffer: b } },
    );
    if (spec.uniforms) {
      // A fresh uniform buffer per dispatch: queue.writeBuffer lands before the whole batch runs,
      // so reusing one buffer inside a batch would give every dispatch the last parameters.
      const ub = this.pool.acquireUniform(spec.uniforms.byteLength);
      this.device.queue.writeBuffer(ub, 0, spec.uniforms);
      this.pendingUniforms.push(ub);
      entries.push({ binding: spec.buffers.length, resource: { buffer: ub } });
    }
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const [x, y = 1, z = 1] = spec.workgroups;
    const maxDim = this.info.limits.maxComputeWorkgroupsPerDimension ?? 65535;
    if (x > maxDim || y > maxDim || z > maxDim)
      throw new BufferLimitError(Math.max(x, y, z), maxDim, `Kernel ${spec.kernel} grid (${x}x${y}x${z} workgroups)`);
    const pass = this.computePass(this.timer?.enabled ? profileLabel(spec, x, y, z) : (spec.label ?? spec.kernel));
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    if (x > 0 && y > 0 && z > 0) pass.dispatchWorkgroups(x, y, z);
    if (this.passTimed) this.endPass();
    const st = this.stats,
      wg = x * y * z;
    st.dispatches++;
    st.workgroups += wg;
    const k = st.byKernel.get(spec.kernel);
    if (k) {
      k.dispatches++;
      k.workgroups += wg;
    } else st.byKernel.set(spec.kernel, { dispatches: 1, workgroups: wg });
  }

  /** Dispatches since creation; handy for tests of batching and for the self-test page. */
  get dispatches(): number {
    return this.stats.dispatches;
  }

  /** Copy between buffers inside the current batch. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.check();
    this.currentEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Zero a buffer range inside the current batch. */
  clear(buf: GPUBuffer, offset = 0, bytes?: number): void {
    this.check();
    this.currentEncoder().clearBuffer(buf, offset, bytes);
  }

  /** Submit everything recorded so far. */
  flush(): void {
    this.check();
    this.endPass();
    if (this.timer && this.encoder) this.timer.resolve(this.encoder);
    if (this.encoder) {
      this.device.queue.submit([this.encoder.finish()]);
      this.encoder = null;
      this.stats.submits++;
    }
    for (const ub of this.pendingUniforms) this.pool.releaseUniform(ub);
    this.pendingUniforms = [];
  }

  /** Read `bytes` from `buf` back to the CPU. Rejects with DeviceLostError rather than hanging. */
  async read(buf: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
    this.copy(buf, offset, staging, 0, bytes);
    this.flush();
    this.stats.readbacks++;
    this.stats.readBytes += bytes;
    // A lost device rejects pending maps in browsers; the race makes sure no runtime hangs on it.
    const lost = this.device.lost.then((e) => {
      throw new DeviceLostError(e.reason ?? 'unknown', e.message ?? '');
    });
    lost.catch(() => {});
    try {
      await Promise.race([staging.mapAsync(GPUMapMode.READ), lost]);
      const out = staging.getMappedRange().slice(0);
      staging.unmap();
      this.check();
      return out;
    } catch (e) {
      this.check();
      // A map aborted by a device loss can reject before device.lost settles: wait for it briefly
      // so the caller gets the typed error rather than a bare AbortError.
      const info = await Promise.race([this.device.lost, new Promise<null>((r) => setTimeout(() => r(null), 250))]);
      if (info) throw new DeviceLostError(info.reason ?? 'unknown', info.message ?? '');
      throw e;
    } finally {
      staging.destroy();
    }
  }

  async readF32(buf: GPUBuffer, count: number, offset = 0): Promise<Float32Array> {
    return new Float32Array(await this.read(buf, count * 4, offset));
  }

  /** Wait for all submitted work (for timings), surfacing errors. */
  async sync(): Promise<void> {
    this.flush();
    this.stats.syncs++;
    await this.device.queue.onSubmittedWorkDone();
    this.check();
  }

  destroy(): void {
    this.pool.destroyAll();
    this.timer?.destroy();
    this.device.destroy();
  }
}

// A pool of storage and uniform buffers, bucketed by size, so a training step allocates nothing
// after its first iteration. Below 64 KiB buckets are 256-byte steps (small tensors are many and
// waste is cheap); above, eight buckets per power of two, so a buffer wastes at most 12.5%
// (plain powers of two would round a 655 MB corpus up to 1 GiB, which adapters refuse).

export function bucketSize(bytes: number): number {
  const b = Math.max(16, bytes);
  if (b <= 65536) return Math.ceil(b / 256) * 256;
  const step = 2 ** Math.floor(Math.log2(b)) / 8;
  return Math.ceil(b / step) * step;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private freeUniform = new Map<number, GPUBuffer[]>();
  private live = new Set<GPUBuffer>();
  /** Bytes held by buffers in use, and in total (in use + pooled). */
  inUseBytes = 0;
  totalBytes = 0;

  constructor(
    private device: GPUDevice,
    private maxBufferSize: number,
  ) {}

  acquire(bytes: number): GPUBuffer {
    // Never round a big buffer past the device's limit. Sizes are whole 16-byte steps: kernels
    // bind some buffers as vec4 arrays (matmul_forward), which would drop a partial last vec4.
    const want = Math.ceil(bytes / 16) * 16;
    const size = Math.min(bucketSize(want), Math.max(want, Math.floor(this.maxBufferSize / 16) * 16));
    const list = this.free.get(size);
    let buf = list?.pop();
    if (!buf) {
      buf = this.device.createBuffer({
        size,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
      this.totalBytes += size;
    }
    this.live.add(buf);
    this.inUseBytes += size;
    return buf;
  }

  release(buf: GPUBuffer): void {
    if (!this.live.delete(buf)) return; // double release is a no-op, not a corruption
    this.inUseBytes -= buf.size;
    let list = this.free.get(buf.size);
    if (!list) this.free.set(buf.size, (list = []));
    list.push(buf);
  }

  acquireUniform(bytes: number): GPUBuffer {
    const size = Math.ceil(Math.max(16, bytes) / 16) * 16;
    const buf =
      this.freeUniform.get(size)?.pop() ??
      this.device.createBuffer({ size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    return buf;
  }

  releaseUniform(buf: GPUBuffer): void {
    let list = this.freeUniform.get(buf.size);
    if (!list) this.freeUniform.set(buf.size, (list = []));
    list.push(buf);
  }

  /** Return pooled (unused) buffers to the driver. */
  trim(): void {
    for (const list of this.free.values())
      for (const b of list) {
        this.totalBytes -= b.size;
        b.destroy();
      }
    this.free.clear();
  }

  get liveCount(): number {
    return this.live.size;
  }

  destroyAll(): void {
    this.trim();
    for (const b of this.live) b.destroy();
    this.live.clear();
    for (const list of this.freeUniform.values()) for (const b of list) b.destroy();
    this.freeUniform.clear();
    this.inUseBytes = 0;
    this.totalBytes = 0;
  }
}

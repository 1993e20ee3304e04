// GPU-side kernel timings from timestamp queries, where the adapter has 'timestamp-query'.
// Off by default (it adds a resolve per batch); turn on with `timer.enabled = true`, run work,
// then `await timer.collect()` for per-label totals in milliseconds.

const CAPACITY = 512; // passes per batch that get timestamps; the rest run untimed

export class KernelTimer {
  enabled = false;
  private querySet: GPUQuerySet;
  private resolveBuf: GPUBuffer;
  private labels: string[] = [];
  private pending: Array<{ buf: GPUBuffer; labels: string[] }> = [];

  constructor(private device: GPUDevice) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: CAPACITY * 2 });
    this.resolveBuf = device.createBuffer({
      size: CAPACITY * 2 * 8,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
  }

  passDescriptor(label: string): GPUComputePassDescriptor | undefined {
    if (!this.enabled || this.labels.length >= CAPACITY) return undefined;
    const i = this.labels.length;
    this.labels.push(label);
    return {
      label,
      timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
    };
  }

  /** Called by Gpu.flush() before finishing the encoder. */
  resolve(encoder: GPUCommandEncoder): void {
    const n = this.labels.length;
    if (n === 0) return;
    encoder.resolveQuerySet(this.querySet, 0, 2 * n, this.resolveBuf, 0);
    const read = this.device.createBuffer({ size: 2 * n * 8, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
    encoder.copyBufferToBuffer(this.resolveBuf, 0, read, 0, 2 * n * 8);
    this.pending.push({ buf: read, labels: this.labels });
    this.labels = [];
  }

  /** Per-label GPU milliseconds since the last collect(). */
  async collect(): Promise<Record<string, { ms: number; count: number }>> {
    const out: Record<string, { ms: number; count: number }> = {};
    const pending = this.pending;
    this.pending = [];
    for (const { buf, labels } of pending) {
      await buf.mapAsync(GPUMapMode.READ);
      const t = new BigUint64Array(buf.getMappedRange());
      labels.forEach((label, i) => {
        const ms = Number(t[2 * i + 1]! - t[2 * i]!) / 1e6;
        const e = (out[label] ??= { ms: 0, count: 0 });
        // Some drivers quantise or reorder timestamps; a negative span carries no information.
        e.ms += Math.max(0, ms);
        e.count++;
      });
      buf.unmap();
      buf.destroy();
    }
    return out;
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolveBuf.destroy();
  }
}

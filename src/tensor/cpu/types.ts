// Plain-TypeScript tensors for the CPU twins: the reference every GPU kernel is checked against.

export interface CpuTensor {
  data: Float32Array;
  shape: number[];
}

export const cpu = (data: ArrayLike<number>, shape: number[]): CpuTensor => ({ data: Float32Array.from(data), shape });
export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

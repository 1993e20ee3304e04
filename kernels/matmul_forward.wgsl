// Batched matrix multiply: C[b] = alpha * op(A[b]) @ op(B[b]) (+ C[b] when ACCUMULATE).
// B = batch, M = rows of C, N = cols of C, K = inner dim.
// op(X) = X^T when TRANS_X: A is stored [M,K] (or [K,M] transposed), B [K,N] (or [N,K]).
// A batch stride of 0 broadcasts that operand across the batch.
// Backward uses this same kernel with flipped transpose flags and ACCUMULATE (see ops/matmul.ts).
//
// Each thread computes an 8x8 block of C in registers (lib/matmul_tile.wgsl); a workgroup is
// WG_X x WG_Y threads (at most 8x8, so 64x64 of C), narrowed by the host for a thin C so a
// 26-row LM head does not fill a 64-row tile. A and B are bound as vec4 arrays: when an
// operand's contiguous dim and batch stride are multiples of 4 (VEC_A / VEC_B), a 4x4 block of
// it is 4 vec4 loads, otherwise 16 scalar ones.

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override ACCUMULATE: bool = false;
override VEC_A: bool = false;
override VEC_B: bool = false;
override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

struct Params {
  M: u32, N: u32, K: u32, batch: u32,
  strideA: u32, strideB: u32, strideC: u32, alpha: f32,
}

@group(0) @binding(0) var<storage, read> A: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> Bm: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

//!include lib/matmul_tile

fn b1(i: u32) -> f32 { return Bm[i >> 2u][i & 3u]; }

// Four consecutive floats of B from flat index i (i % 4 == 0 when VEC_B).
fn b4(i: u32) -> vec4<f32> {
  if (VEC_B) { return Bm[i >> 2u]; }
  return vec4<f32>(b1(i), b1(i + 1u), b1(i + 2u), b1(i + 3u));
}

// op(B)[k, c] at 4 cols c.
fn bRow(base: u32, k: u32, c: vec4<u32>) -> vec4<f32> {
  if (TRANS_B) { return vec4<f32>(b1(base + c.x * p.K + k), b1(base + c.y * p.K + k), b1(base + c.z * p.K + k), b1(base + c.w * p.K + k)); }
  let o = base + k * p.N;
  return vec4<f32>(b1(o + c.x), b1(o + c.y), b1(o + c.z), b1(o + c.w));
}

// op(B) at inner k..k+3, cols c (4 of them): column u is op(B)[k + u, c].
fn bBlock(base: u32, c: vec4<u32>, k: u32) -> mat4x4<f32> {
  if (TRANS_B) {
    // Stored [N, K]: each col's k..k+3 are contiguous.
    return transpose(mat4x4<f32>(b4(base + c.x * p.K + k), b4(base + c.y * p.K + k),
                                 b4(base + c.z * p.K + k), b4(base + c.w * p.K + k)));
  }
  // Stored [K, N]: cols c are contiguous at each k (c = n0..n0+3 when VEC_B).
  if (VEC_B) {
    return mat4x4<f32>(Bm[(base + k * p.N + c.x) >> 2u], Bm[(base + (k + 1u) * p.N + c.x) >> 2u],
                       Bm[(base + (k + 2u) * p.N + c.x) >> 2u], Bm[(base + (k + 3u) * p.N + c.x) >> 2u]);
  }
  return mat4x4<f32>(bRow(base, k, c), bRow(base, k + 1u, c), bRow(base, k + 2u, c), bRow(base, k + 3u, c));
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b = gid.z;
  matmulTile(gid, b * p.strideA, b * p.strideB, b * p.strideC);
}

// Matrix multiply with a frozen f16 right operand: C = alpha * A @ op(W) (+ C when ACCUMULATE).
// M = rows of C, N = cols of C, K = inner dim; A is f32 [M, K] row-major. W holds IEEE halves two
// per u32 (src/tensor/f16.ts), each storage row padded to a whole word (padding half = +0), and is
// unpacked here with unpack2x16float (core WGSL, no shader-f16):
//   TRANS_B = true:  W stored [N, K] (nn.Linear's [out, in]): the forward x @ W^T, strideW = ceil(K/2)
//   TRANS_B = false: W stored [K, N]: the input gradient dy @ W of the same weight, strideW = ceil(N/2)
// A weight trained in f32 would go through matmul_forward; this one has no weight gradient.
//
// Each thread computes an 8x8 block of C in registers (lib/matmul_tile.wgsl, as matmul_forward);
// a 4x4 block of W along K is 8 words when TRANS_B, unpacked in registers.

const TRANS_A: bool = false;
override TRANS_B: bool = true;
override ACCUMULATE: bool = false;
override VEC_A: bool = false;
override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

struct Params { M: u32, N: u32, K: u32, strideW: u32, alpha: f32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<storage, read> A: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> W: array<u32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

//!include lib/matmul_tile

// Half e of the storage row starting at word `row`.
fn half(row: u32, e: u32) -> f32 { return unpack2x16float(W[row + (e >> 1u)])[e & 1u]; }

// op(W)[k, c] at 4 cols c.
fn bRow(base: u32, k: u32, c: vec4<u32>) -> vec4<f32> {
  if (TRANS_B) {
    return vec4<f32>(half(c.x * p.strideW, k), half(c.y * p.strideW, k), half(c.z * p.strideW, k), half(c.w * p.strideW, k));
  }
  let row = k * p.strideW;
  return vec4<f32>(half(row, c.x), half(row, c.y), half(row, c.z), half(row, c.w));
}

// W stored [N, K]: col n's halves k..k+3 (k % 4 == 0) are two whole words.
fn wCol4(n: u32, k: u32) -> vec4<f32> {
  let w = n * p.strideW + (k >> 1u);
  return vec4<f32>(unpack2x16float(W[w]), unpack2x16float(W[w + 1u]));
}

// op(W) at inner k..k+3, cols c (4 of them): column u is op(W)[k + u, c].
fn bBlock(base: u32, c: vec4<u32>, k: u32) -> mat4x4<f32> {
  if (TRANS_B) { return transpose(mat4x4<f32>(wCol4(c.x, k), wCol4(c.y, k), wCol4(c.z, k), wCol4(c.w, k))); }
  return mat4x4<f32>(bRow(base, k, c), bRow(base, k + 1u, c), bRow(base, k + 2u, c), bRow(base, k + 3u, c));
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  matmulTile(gid, 0u, 0u, 0u);
}

// Batched matrix multiply: C[b] = alpha * op(A[b]) @ op(B[b]) (+ C[b] when ACCUMULATE).
// B = batch, M = rows of C, N = cols of C, K = inner dim.
// op(X) = X^T when TRANS_X: A is stored [M,K] (or [K,M] transposed), B [K,N] (or [N,K]).
// A batch stride of 0 broadcasts that operand across the batch.
// Backward uses this same kernel with flipped transpose flags and ACCUMULATE (see ops/matmul.ts).
//
// Tiling: each workgroup computes a 64x64 tile of C with 16x16 threads, 4x4 outputs per thread,
// stepping K by 16 through workgroup memory. On SwiftShader this is ~5x a plain 16x16 tile.

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override ACCUMULATE: bool = false;

struct Params {
  M: u32, N: u32, K: u32, batch: u32,
  strideA: u32, strideB: u32, strideC: u32, alpha: f32,
}

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> Bm: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

const TS: u32 = 64u;   // tile size of C
const TK: u32 = 16u;   // K step
const R: u32 = 4u;     // outputs per thread per dim

var<workgroup> As: array<f32, 1024>;  // [TK][TS], As[k * TS + m]
var<workgroup> Bs: array<f32, 1024>;  // [TK][TS], Bs[k * TS + n]

fn loadA(base: u32, m: u32, k: u32) -> f32 {
  if (m >= p.M || k >= p.K) { return 0.0; }
  if (TRANS_A) { return A[base + k * p.M + m]; }
  return A[base + m * p.K + k];
}

fn loadB(base: u32, k: u32, n: u32) -> f32 {
  if (k >= p.K || n >= p.N) { return 0.0; }
  if (TRANS_B) { return Bm[base + n * p.K + k]; }
  return Bm[base + k * p.N + n];
}

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) tid: u32) {
  let b = wg.z;
  let row0 = wg.y * TS;
  let col0 = wg.x * TS;
  let aBase = b * p.strideA;
  let bBase = b * p.strideB;

  // Accumulators live in four vec4 registers: a dynamically indexed array would be spilled to
  // memory by software rasterisers (SwiftShader) and by some GPU compilers.
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);

  let nTiles = (p.K + TK - 1u) / TK;
  for (var t = 0u; t < nTiles; t++) {
    let k0 = t * TK;
    // 1024 values of each tile, 4 per thread; index order follows memory order for coalescing.
    for (var r = 0u; r < 4u; r++) {
      let e = tid + r * 256u;
      if (TRANS_A) {
        let k = e / TS; let m = e % TS;
        As[k * TS + m] = loadA(aBase, row0 + m, k0 + k);
      } else {
        let m = e / TK; let k = e % TK;
        As[k * TS + m] = loadA(aBase, row0 + m, k0 + k);
      }
      if (TRANS_B) {
        let n = e / TK; let k = e % TK;
        Bs[k * TS + n] = loadB(bBase, k0 + k, col0 + n);
      } else {
        let k = e / TS; let n = e % TS;
        Bs[k * TS + n] = loadB(bBase, k0 + k, col0 + n);
      }
    }
    workgroupBarrier();
    let am = lid.y * R;
    let bn = lid.x * R;
    for (var k = 0u; k < TK; k++) {
      let ai = k * TS + am;
      let bi = k * TS + bn;
      let a = vec4<f32>(As[ai], As[ai + 1u], As[ai + 2u], As[ai + 3u]);
      let bv = vec4<f32>(Bs[bi], Bs[bi + 1u], Bs[bi + 2u], Bs[bi + 3u]);
      acc0 = fma(vec4<f32>(a.x), bv, acc0);
      acc1 = fma(vec4<f32>(a.y), bv, acc1);
      acc2 = fma(vec4<f32>(a.z), bv, acc2);
      acc3 = fma(vec4<f32>(a.w), bv, acc3);
    }
    workgroupBarrier();
  }

  let cBase = b * p.strideC;
  let m0 = row0 + lid.y * R;
  let n0 = col0 + lid.x * R;
  store(cBase, m0, n0, acc0);
  store(cBase, m0 + 1u, n0, acc1);
  store(cBase, m0 + 2u, n0, acc2);
  store(cBase, m0 + 3u, n0, acc3);
}

fn store(cBase: u32, m: u32, n0: u32, v: vec4<f32>) {
  if (m >= p.M) { return; }
  for (var j = 0u; j < R; j++) {
    let n = n0 + j;
    if (n < p.N) {
      let idx = cBase + m * p.N + n;
      var c = p.alpha * v[j];
      if (ACCUMULATE) { c += C[idx]; }
      C[idx] = c;
    }
  }
}

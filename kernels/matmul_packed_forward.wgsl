// Matrix multiply with a frozen f16 right operand: C = alpha * A @ op(W) (+ C when ACCUMULATE).
// M = rows of C, N = cols of C, K = inner dim; A is f32 [M, K] row-major. W holds IEEE halves two
// per u32 (src/tensor/f16.ts), each storage row padded to a whole word (padding half = +0), and is
// unpacked here with unpack2x16float (core WGSL, no shader-f16):
//   TRANS_B = true:  W stored [N, K] (nn.Linear's [out, in]): the forward x @ W^T, strideW = ceil(K/2)
//   TRANS_B = false: W stored [K, N]: the input gradient dy @ W of the same weight, strideW = ceil(N/2)
// A weight trained in f32 would go through matmul_forward; this one has no weight gradient.
//
// Tiling as matmul_forward: a 64x64 tile of C per workgroup, 16x16 threads, 4x4 outputs each, K in
// steps of 16 through workgroup memory; each thread loads 2 words (4 halves) of W per step.

override TRANS_B: bool = true;
override ACCUMULATE: bool = false;

struct Params { M: u32, N: u32, K: u32, strideW: u32, alpha: f32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> W: array<u32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

const TS: u32 = 64u;   // tile size of C
const TK: u32 = 16u;   // K step
const R: u32 = 4u;     // outputs per thread per dim

var<workgroup> As: array<f32, 1024>;  // [TK][TS], As[k * TS + m]
var<workgroup> Bs: array<f32, 1024>;  // [TK][TS], Bs[k * TS + n]

fn loadA(m: u32, k: u32) -> f32 {
  if (m >= p.M || k >= p.K) { return 0.0; }
  return A[m * p.K + k];
}

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) tid: u32) {
  let row0 = wg.y * TS;
  let col0 = wg.x * TS;

  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);

  let nTiles = (p.K + TK - 1u) / TK;
  for (var t = 0u; t < nTiles; t++) {
    let k0 = t * TK;
    for (var r = 0u; r < 4u; r++) {
      let e = tid + r * 256u;
      let m = e / TK; let k = e % TK;
      As[k * TS + m] = loadA(row0 + m, k0 + k);
    }
    // 512 words of W per step: a pair of halves is adjacent along W's storage rows.
    for (var r = 0u; r < 2u; r++) {
      let w = tid + r * 256u;
      if (TRANS_B) {
        let n = w / 8u; let k = (w % 8u) * 2u;
        let gn = col0 + n; let gk = k0 + k;
        var v = vec2<f32>(0.0);
        if (gn < p.N && gk < p.K) { v = unpack2x16float(W[gn * p.strideW + gk / 2u]); }
        Bs[k * TS + n] = v.x;
        Bs[(k + 1u) * TS + n] = v.y;
      } else {
        let k = w / 32u; let n = (w % 32u) * 2u;
        let gk = k0 + k; let gn = col0 + n;
        var v = vec2<f32>(0.0);
        if (gk < p.K && gn < p.N) { v = unpack2x16float(W[gk * p.strideW + gn / 2u]); }
        Bs[k * TS + n] = v.x;
        Bs[k * TS + n + 1u] = v.y;
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

  let m0 = row0 + lid.y * R;
  let n0 = col0 + lid.x * R;
  store(m0, n0, acc0);
  store(m0 + 1u, n0, acc1);
  store(m0 + 2u, n0, acc2);
  store(m0 + 3u, n0, acc3);
}

fn store(m: u32, n0: u32, v: vec4<f32>) {
  if (m >= p.M) { return; }
  for (var j = 0u; j < R; j++) {
    let n = n0 + j;
    if (n < p.N) {
      let idx = m * p.N + n;
      var c = p.alpha * v[j];
      if (ACCUMULATE) { c += C[idx]; }
      C[idx] = c;
    }
  }
}

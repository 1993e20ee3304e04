// Batched matrix multiply: C[b] = alpha * op(A[b]) @ op(B[b]) (+ C[b] when ACCUMULATE).
// B = batch, M = rows of C, N = cols of C, K = inner dim.
// op(X) = X^T when TRANS_X: A is stored [M,K] (or [K,M] transposed), B [K,N] (or [N,K]).
// A batch stride of 0 broadcasts that operand across the batch.
// Backward uses this same kernel with flipped transpose flags and ACCUMULATE (see ops/matmul.ts).
//
// Register tiling, no workgroup memory and no barriers: each thread computes an 8x8 block of C
// straight from global memory, 4 steps of K at a time, as four 4x4 blocks (mat4x4 registers).
// A workgroup is WG_X x WG_Y threads (at most 8x8, so 64x64 of C), narrowed by the host for a
// small M or N so a 26-row LM head does not fill a 64-row tile. Software rasterisers
// (SwiftShader) run a barrier as a fiber switch and every load as a bounds-checked gather, so
// what counts is loads per multiply-add: 64 per 256 here, against 32 per 64 for 4x4 blocks.
// A and B are bound as vec4 arrays: when an operand's contiguous dim and batch stride are
// multiples of 4 (VEC_A / VEC_B), a 4x4 block of it is 4 vec4 loads, otherwise 16 scalar ones.

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

fn a1(i: u32) -> f32 { return A[i >> 2u][i & 3u]; }
fn b1(i: u32) -> f32 { return Bm[i >> 2u][i & 3u]; }

// Four consecutive floats from flat index i (i % 4 == 0 when vec is true).
fn a4(i: u32, vec: bool) -> vec4<f32> {
  if (vec) { return A[i >> 2u]; }
  return vec4<f32>(a1(i), a1(i + 1u), a1(i + 2u), a1(i + 3u));
}
fn b4(i: u32, vec: bool) -> vec4<f32> {
  if (vec) { return Bm[i >> 2u]; }
  return vec4<f32>(b1(i), b1(i + 1u), b1(i + 2u), b1(i + 3u));
}

// op(A) at rows r (4 of them), inner k..k+3, as the transposed block: column i of the result
// is op(A)[r_i, k..k+3].
fn aBlockT(base: u32, r: vec4<u32>, k: u32) -> mat4x4<f32> {
  if (TRANS_A) {
    // Stored [K, M]: rows r are contiguous at each k (r = m0..m0+3 when VEC_A).
    if (VEC_A) {
      return transpose(mat4x4<f32>(A[(base + k * p.M + r.x) >> 2u], A[(base + (k + 1u) * p.M + r.x) >> 2u],
                                   A[(base + (k + 2u) * p.M + r.x) >> 2u], A[(base + (k + 3u) * p.M + r.x) >> 2u]));
    }
    return transpose(mat4x4<f32>(aCol(base, r, k), aCol(base, r, k + 1u), aCol(base, r, k + 2u), aCol(base, r, k + 3u)));
  }
  // Stored [M, K]: each row's k..k+3 are contiguous.
  return mat4x4<f32>(a4(base + r.x * p.K + k, VEC_A), a4(base + r.y * p.K + k, VEC_A),
                     a4(base + r.z * p.K + k, VEC_A), a4(base + r.w * p.K + k, VEC_A));
}

// op(B) at inner k..k+3, cols c (4 of them): column u of the result is op(B)[k + u, c].
fn bBlock(base: u32, c: vec4<u32>, k: u32) -> mat4x4<f32> {
  if (TRANS_B) {
    // Stored [N, K]: each col's k..k+3 are contiguous.
    return transpose(mat4x4<f32>(b4(base + c.x * p.K + k, VEC_B), b4(base + c.y * p.K + k, VEC_B),
                                 b4(base + c.z * p.K + k, VEC_B), b4(base + c.w * p.K + k, VEC_B)));
  }
  // Stored [K, N]: cols c are contiguous at each k (c = n0..n0+3 when VEC_B).
  if (VEC_B) {
    return mat4x4<f32>(Bm[(base + k * p.N + c.x) >> 2u], Bm[(base + (k + 1u) * p.N + c.x) >> 2u],
                       Bm[(base + (k + 2u) * p.N + c.x) >> 2u], Bm[(base + (k + 3u) * p.N + c.x) >> 2u]);
  }
  return mat4x4<f32>(bRow(base, k, c), bRow(base, k + 1u, c), bRow(base, k + 2u, c), bRow(base, k + 3u, c));
}

fn aAt(base: u32, r: u32, k: u32) -> f32 {
  if (TRANS_A) { return a1(base + k * p.M + r); }
  return a1(base + r * p.K + k);
}
fn bAt(base: u32, k: u32, c: u32) -> f32 {
  if (TRANS_B) { return b1(base + c * p.K + k); }
  return b1(base + k * p.N + c);
}
fn aCol(base: u32, r: vec4<u32>, k: u32) -> vec4<f32> {
  return vec4<f32>(aAt(base, r.x, k), aAt(base, r.y, k), aAt(base, r.z, k), aAt(base, r.w, k));
}
fn bRow(base: u32, k: u32, c: vec4<u32>) -> vec4<f32> {
  return vec4<f32>(bAt(base, k, c.x), bAt(base, k, c.y), bAt(base, k, c.z), bAt(base, k, c.w));
}
// The 4x4 block a (x) b: column i is row i of it, b * a_i.
fn outer(a: vec4<f32>, b: vec4<f32>) -> mat4x4<f32> {
  return mat4x4<f32>(b * a.x, b * a.y, b * a.z, b * a.w);
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m0 = gid.y * 8u;
  let n0 = gid.x * 8u;
  if (m0 >= p.M || n0 >= p.N) { return; }
  let b = gid.z;
  let aBase = b * p.strideA;
  let bBase = b * p.strideB;
  // The block's rows are r (m0..m0+3) and q (m0+4..m0+7), its cols c and d likewise. Those past
  // the edge read the last valid one; their outputs are not stored.
  let r = min(vec4<u32>(m0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.M - 1u));
  let q = min(vec4<u32>(m0) + vec4<u32>(4u, 5u, 6u, 7u), vec4<u32>(p.M - 1u));
  let c = min(vec4<u32>(n0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.N - 1u));
  let d = min(vec4<u32>(n0) + vec4<u32>(4u, 5u, 6u, 7u), vec4<u32>(p.N - 1u));

  // Column i of rc is C[r_i, c]: acc += bBlock * aBlockT is sum over u of op(B)[k+u, c] op(A)[r_i, k+u].
  var rc = mat4x4<f32>();
  var rd = mat4x4<f32>();
  var qc = mat4x4<f32>();
  var qd = mat4x4<f32>();
  let K4 = p.K & ~3u;
  for (var k = 0u; k < K4; k += 4u) {
    let ar = aBlockT(aBase, r, k);
    let aq = aBlockT(aBase, q, k);
    let bc = bBlock(bBase, c, k);
    let bd = bBlock(bBase, d, k);
    rc += bc * ar;
    rd += bd * ar;
    qc += bc * aq;
    qd += bd * aq;
  }
  for (var k = K4; k < p.K; k++) {
    let ar = aCol(aBase, r, k);
    let aq = aCol(aBase, q, k);
    let bc = bRow(bBase, k, c);
    let bd = bRow(bBase, k, d);
    rc += outer(ar, bc);
    rd += outer(ar, bd);
    qc += outer(aq, bc);
    qd += outer(aq, bd);
  }

  // Constant indices only: a loop index into a matrix would move it to memory.
  let cBase = b * p.strideC;
  store(cBase, m0, n0, rc[0], rd[0]);
  store(cBase, m0 + 1u, n0, rc[1], rd[1]);
  store(cBase, m0 + 2u, n0, rc[2], rd[2]);
  store(cBase, m0 + 3u, n0, rc[3], rd[3]);
  store(cBase, m0 + 4u, n0, qc[0], qd[0]);
  store(cBase, m0 + 5u, n0, qc[1], qd[1]);
  store(cBase, m0 + 6u, n0, qc[2], qd[2]);
  store(cBase, m0 + 7u, n0, qc[3], qd[3]);
}

// Row m of C at cols n0..n0+7 (v then w), those inside C.
fn store(cBase: u32, m: u32, n0: u32, v: vec4<f32>, w: vec4<f32>) {
  if (m >= p.M) { return; }
  let row = cBase + m * p.N;
  for (var j = 0u; j < 8u; j++) {
    let n = n0 + j;
    if (n >= p.N) { return; }
    var x = p.alpha * select(w[j & 3u], v[j & 3u], j < 4u);
    if (ACCUMULATE) { x += C[row + n]; }
    C[row + n] = x;
  }
}

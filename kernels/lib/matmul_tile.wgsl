// The register tile shared by matmul_forward and matmul_packed_forward: one thread computes an
// 8x8 block of C = alpha * op(A) @ op(B) (+ C when ACCUMULATE) straight from global memory, 4
// steps of K at a time, as four 4x4 blocks held in mat4x4 registers. No workgroup memory and no
// barriers: software rasterisers (SwiftShader) run a barrier as a fiber switch and every load as
// a bounds-checked gather, so what counts is loads per multiply-add (64 per 256 here, against 32
// per 64 for 4x4 blocks). Rows and cols past C's edge read the last valid one and are not stored.
//
// The including kernel declares: A (array<vec4<f32>>, op(A) read 4 floats at a time when VEC_A),
// C (array<f32>), p with M, N, K and alpha, overrides TRANS_A, VEC_A and ACCUMULATE, and the
// B side: bBlock(base, c, k) (column u is op(B)[k + u, c]) and bRow(base, k, c) (op(B)[k, c]).

fn a1(i: u32) -> f32 { return A[i >> 2u][i & 3u]; }

// Four consecutive floats of A from flat index i (i % 4 == 0 when VEC_A).
fn a4(i: u32) -> vec4<f32> {
  if (VEC_A) { return A[i >> 2u]; }
  return vec4<f32>(a1(i), a1(i + 1u), a1(i + 2u), a1(i + 3u));
}

fn aAt(base: u32, r: u32, k: u32) -> f32 {
  if (TRANS_A) { return a1(base + k * p.M + r); }
  return a1(base + r * p.K + k);
}

// op(A)[r, k] at 4 rows r.
fn aCol(base: u32, r: vec4<u32>, k: u32) -> vec4<f32> {
  return vec4<f32>(aAt(base, r.x, k), aAt(base, r.y, k), aAt(base, r.z, k), aAt(base, r.w, k));
}

// op(A) at rows r (4 of them), inner k..k+3, transposed: column i is op(A)[r_i, k..k+3].
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
  return mat4x4<f32>(a4(base + r.x * p.K + k), a4(base + r.y * p.K + k),
                     a4(base + r.z * p.K + k), a4(base + r.w * p.K + k));
}

// The 4x4 block a (x) b: column i is b * a_i.
fn outer(a: vec4<f32>, b: vec4<f32>) -> mat4x4<f32> {
  return mat4x4<f32>(b * a.x, b * a.y, b * a.z, b * a.w);
}

// Row m of C at cols n0..n0+7 (v then w), those inside C.
fn storeRow(cBase: u32, m: u32, n0: u32, v: vec4<f32>, w: vec4<f32>) {
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

// The 8x8 block of C at (8 * gid.y, 8 * gid.x) of one matrix in the batch.
fn matmulTile(gid: vec3<u32>, aBase: u32, bBase: u32, cBase: u32) {
  let m0 = gid.y * 8u;
  let n0 = gid.x * 8u;
  if (m0 >= p.M || n0 >= p.N) { return; }
  // Rows r (m0..m0+3) and q (m0+4..m0+7), cols c and d likewise, clamped to C.
  let r = min(vec4<u32>(m0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.M - 1u));
  let q = min(vec4<u32>(m0) + vec4<u32>(4u, 5u, 6u, 7u), vec4<u32>(p.M - 1u));
  let c = min(vec4<u32>(n0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.N - 1u));
  let d = min(vec4<u32>(n0) + vec4<u32>(4u, 5u, 6u, 7u), vec4<u32>(p.N - 1u));

  // Column i of rc is C[r_i, c]: bBlock * aBlockT sums op(B)[k + u, c] op(A)[r_i, k + u] over u.
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
  storeRow(cBase, m0, n0, rc[0], rd[0]);
  storeRow(cBase, m0 + 1u, n0, rc[1], rd[1]);
  storeRow(cBase, m0 + 2u, n0, rc[2], rd[2]);
  storeRow(cBase, m0 + 3u, n0, rc[3], rd[3]);
  storeRow(cBase, m0 + 4u, n0, qc[0], qd[0]);
  storeRow(cBase, m0 + 5u, n0, qc[1], qd[1]);
  storeRow(cBase, m0 + 6u, n0, qc[2], qd[2]);
  storeRow(cBase, m0 + 7u, n0, qc[3], qd[3]);
}

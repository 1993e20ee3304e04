// ColBERT late-interaction scores (MaxSim), fused:
//   scores[b, n] = sum over unmasked i of max over j in doc n of Q[b, i] . D[j]
// B = queries, Lq = query tokens, dim = vector dim, N = documents, L = doc tokens (ragged),
// total = sum of doc lengths (rows of D).
// D is the packed corpus [total, dim], read from element d0 on (so the host can bind a chunk of
// a larger buffer at an aligned offset); doc n is rows offsets[n] .. offsets[n+1] of it. The host
// rejects empty docs. qmask [B, Lq]: a query token whose mask is 0 adds nothing.
// SAVE_ARGMAX (a backward will run): argmax[b, n, i] (i32) gets the row of D (counted from d0)
// that won the max for query token i, the lowest row on ties, or -1 for a masked token.
//
// One thread per (query b, doc n), no workgroup memory and no barriers (software rasterisers such
// as SwiftShader run a barrier as a fiber switch and every load as a bounds-checked gather). The
// thread walks 8 query tokens x 8 doc rows at a time, 4 dims per step, as four 4x4 blocks of
// dot products in mat4x4 registers (16 vec4 loads per 256 multiply-adds, as matmul_forward), and
// folds each block into the 8 query tokens' running maxima; the Lq x L similarity matrix never
// leaves registers and the score needs no reduction across threads. Query tokens past Lq and
// doc rows past the doc's end read the last valid one: a repeated row ties the one it repeats,
// which came first and so keeps the max. Q and D are bound as vec4 arrays; VEC (dim and d0
// multiples of 4) reads a row's 4 dims as one vec4, otherwise as 4 scalars.
// Docs form a 2D grid of 64-thread workgroups (x, y) past 65535; queries are z.

override SAVE_ARGMAX: bool = false;
override VEC: bool = false;

struct Params {
  B: u32, Lq: u32, dim: u32, N: u32,
  d0: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<storage, read> Q: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> qmask: array<f32>;
@group(0) @binding(2) var<storage, read> D: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> offsets: array<i32>;
@group(0) @binding(4) var<storage, read_write> scores: array<f32>;
@group(0) @binding(5) var<storage, read_write> argmax: array<i32>;
@group(0) @binding(6) var<uniform> p: Params;

const NEG: f32 = -3.4028234663852886e38;

fn q1(i: u32) -> f32 { return Q[i >> 2u][i & 3u]; }
fn d1(i: u32) -> f32 { return D[i >> 2u][i & 3u]; }
fn q4(i: u32) -> vec4<f32> {
  if (VEC) { return Q[i >> 2u]; }
  return vec4<f32>(q1(i), q1(i + 1u), q1(i + 2u), q1(i + 3u));
}
fn d4(i: u32) -> vec4<f32> {
  if (VEC) { return D[i >> 2u]; }
  return vec4<f32>(d1(i), d1(i + 1u), d1(i + 2u), d1(i + 3u));
}

// Column a: dims k..k+3 of query token r_a (flat offsets of the 4 rows in qo).
fn qBlock(qo: vec4<u32>, k: u32) -> mat4x4<f32> {
  return mat4x4<f32>(q4(qo.x + k), q4(qo.y + k), q4(qo.z + k), q4(qo.w + k));
}
// Column u: dim k + u of doc rows c (flat offsets in dof).
fn dBlock(dof: vec4<u32>, k: u32) -> mat4x4<f32> {
  return transpose(mat4x4<f32>(d4(dof.x + k), d4(dof.y + k), d4(dof.z + k), d4(dof.w + k)));
}
fn qCol(qo: vec4<u32>, k: u32) -> vec4<f32> { return vec4<f32>(q1(qo.x + k), q1(qo.y + k), q1(qo.z + k), q1(qo.w + k)); }
fn dCol(dof: vec4<u32>, k: u32) -> vec4<f32> { return vec4<f32>(d1(dof.x + k), d1(dof.y + k), d1(dof.z + k), d1(dof.w + k)); }
fn outer(a: vec4<f32>, b: vec4<f32>) -> mat4x4<f32> { return mat4x4<f32>(b * a.x, b * a.y, b * a.z, b * a.w); }

// Running maxima of 4 query tokens (v) and their rows (i, -1 before the first).
struct Best4 { v: vec4<f32>, i: vec4<i32> }

// Fold doc rows j..j+3 into the maxima. t's column a holds those rows' dots with query token a
// after the transpose below: column u of transpose(t) is row j + u's dots with the 4 tokens.
// Strict '>' over ascending rows keeps the first maximum.
fn fold(cur: Best4, t: mat4x4<f32>, j: i32) -> Best4 {
  let s = transpose(t);
  var r = cur;
  var up = (s[0] > r.v) | (r.i < vec4<i32>(0));
  r = Best4(select(r.v, s[0], up), select(r.i, vec4<i32>(j), up));
  up = s[1] > r.v;
  r = Best4(select(r.v, s[1], up), select(r.i, vec4<i32>(j + 1), up));
  up = s[2] > r.v;
  r = Best4(select(r.v, s[2], up), select(r.i, vec4<i32>(j + 2), up));
  up = s[3] > r.v;
  r = Best4(select(r.v, s[3], up), select(r.i, vec4<i32>(j + 3), up));
  return r;
}

// Query tokens i0..i0+3's share of the score (in ascending order), and their argmax rows.
fn finish(b: u32, n: u32, i0: u32, best: Best4) -> f32 {
  var sum = 0.0;
  for (var a = 0u; a < 4u; a++) {
    let i = i0 + a;
    if (i >= p.Lq) { break; }
    let keep = qmask[b * p.Lq + i] != 0.0;
    if (keep) { sum += best.v[a]; }
    if (SAVE_ARGMAX) { argmax[(b * p.N + n) * p.Lq + i] = select(-1, best.i[a], keep); }
  }
  return sum;
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let b = wg.z;
  let n = (wg.x + wg.y * nw.x) * 64u + lid;
  if (n >= p.N) { return; }
  let start = offsets[n];
  let end = offsets[n + 1u];
  let last = end - 1;
  let dim = p.dim;
  let dim4 = dim & ~3u;
  let qBase = b * p.Lq * dim;
  let qLast = p.Lq - 1u;
  var total = 0.0;
  for (var i0 = 0u; i0 < p.Lq; i0 += 8u) {
    // Query tokens r (i0..i0+3) and s (i0+4..i0+7) as flat offsets, clamped to Lq.
    let qr = qBase + min(vec4<u32>(i0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(qLast)) * dim;
    let qs = qBase + min(vec4<u32>(i0) + vec4<u32>(4u, 5u, 6u, 7u), vec4<u32>(qLast)) * dim;
    var br = Best4(vec4<f32>(NEG), vec4<i32>(-1));
    var bs = Best4(vec4<f32>(NEG), vec4<i32>(-1));
    for (var j0 = start; j0 < end; j0 += 8) {
      // Doc rows c (j0..j0+3) and d (j0+4..j0+7) as flat offsets, clamped to the doc.
      let dc = p.d0 + vec4<u32>(min(vec4<i32>(j0) + vec4<i32>(0, 1, 2, 3), vec4<i32>(last))) * dim;
      let dd = p.d0 + vec4<u32>(min(vec4<i32>(j0) + vec4<i32>(4, 5, 6, 7), vec4<i32>(last))) * dim;
      // Column a of rc: query token r_a's dots with rows c.
      var rc = mat4x4<f32>();
      var rd = mat4x4<f32>();
      var sc = mat4x4<f32>();
      var sd = mat4x4<f32>();
      for (var k = 0u; k < dim4; k += 4u) {
        let ar = qBlock(qr, k);
        let as_ = qBlock(qs, k);
        let bc = dBlock(dc, k);
        let bd = dBlock(dd, k);
        rc += bc * ar;
        rd += bd * ar;
        sc += bc * as_;
        sd += bd * as_;
      }
      for (var k = dim4; k < dim; k++) {
        let ar = qCol(qr, k);
        let as_ = qCol(qs, k);
        let bc = dCol(dc, k);
        let bd = dCol(dd, k);
        rc += outer(ar, bc);
        rd += outer(ar, bd);
        sc += outer(as_, bc);
        sd += outer(as_, bd);
      }
      br = fold(fold(br, rc, j0), rd, j0 + 4);
      bs = fold(fold(bs, sc, j0), sd, j0 + 4);
    }
    total += finish(b, n, i0, br);
    total += finish(b, n, i0 + 4u, bs);
  }
  scores[b * p.N + n] = total;
}

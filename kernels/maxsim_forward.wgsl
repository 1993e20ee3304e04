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
// Tiling: a workgroup handles G consecutive docs of one query b (the host picks G: a few
// workgroups per core on a CPU adapter, where each workgroup costs ~1 ms to start; thousands on a
// GPU). 16x8 threads cover a tile of 32 query tokens x 64 doc tokens, 4x4 dot products each,
// stepping dim by 16 through workgroup memory (6 KiB, plus 4 KiB for the final reduction: under
// the 16 KiB WebGPU default). Each thread keeps its running maxima over the doc's tiles in
// registers; the Lq x L similarity matrix never leaves the workgroup. More than 32 query tokens
// loop over further query tiles. Doc groups form a 2D grid (x, y) past 65535; queries are z.

override SAVE_ARGMAX: bool = false;

struct Params {
  B: u32, Lq: u32, dim: u32, N: u32,
  d0: u32, G: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<storage, read> Q: array<f32>;
@group(0) @binding(1) var<storage, read> qmask: array<f32>;
@group(0) @binding(2) var<storage, read> D: array<f32>;
@group(0) @binding(3) var<storage, read> offsets: array<i32>;
@group(0) @binding(4) var<storage, read_write> scores: array<f32>;
@group(0) @binding(5) var<storage, read_write> argmax: array<i32>;
@group(0) @binding(6) var<uniform> p: Params;

const TQ: u32 = 32u;  // query tokens per tile
const TJ: u32 = 64u;  // doc tokens per tile
const TK: u32 = 16u;  // dim step
const R: u32 = 4u;    // outputs per thread per dim
const TX: u32 = 16u;  // threads along doc tokens (TJ / R)
const NEG: f32 = -3.4028234663852886e38;

var<workgroup> Qs: array<f32, 512>;    // [TK][TQ]
var<workgroup> Ds: array<f32, 1024>;   // [TK][TJ]
var<workgroup> redV: array<f32, 512>;  // [TQ][TX]: each thread's running max per query token
var<workgroup> redI: array<i32, 512>;

struct Best { v: f32, i: i32 }

// Fold 4 consecutive doc tokens j..j+3 into a running max; columns at or past jend are padding.
// Strict '>' over ascending j keeps the first maximum.
fn fold(cur: Best, acc: vec4<f32>, j: i32, jend: i32) -> Best {
  var r = cur;
  if (j < jend && (r.i < 0 || acc.x > r.v)) { r = Best(acc.x, j); }
  if (j + 1 < jend && acc.y > r.v) { r = Best(acc.y, j + 1); }
  if (j + 2 < jend && acc.z > r.v) { r = Best(acc.z, j + 2); }
  if (j + 3 < jend && acc.w > r.v) { r = Best(acc.w, j + 3); }
  return r;
}

fn loadQ(b: u32, i: u32, k: u32) -> f32 {
  if (i >= p.Lq || k >= p.dim) { return 0.0; }
  return Q[(b * p.Lq + i) * p.dim + k];
}

fn loadD(j: i32, jend: i32, k: u32) -> f32 {
  if (j >= jend || k >= p.dim) { return 0.0; }
  return D[p.d0 + u32(j) * p.dim + k];
}

@compute @workgroup_size(16, 8, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let b = wg.z;
  let n0 = (wg.x + wg.y * nw.x) * p.G;
  let n1 = min(n0 + p.G, p.N);
  let nKT = (p.dim + TK - 1u) / TK;
  let am = lid.y * R;
  let bn = lid.x * R;
  for (var n = n0; n < n1; n++) {
    let start = offsets[n];
    let end = offsets[n + 1u];
    var total = 0.0;  // thread 0's copy is the score
    for (var i0 = 0u; i0 < p.Lq; i0 += TQ) {
      var m0 = Best(NEG, -1);
      var m1 = Best(NEG, -1);
      var m2 = Best(NEG, -1);
      var m3 = Best(NEG, -1);
      for (var j0 = start; j0 < end; j0 += i32(TJ)) {
        var acc0 = vec4<f32>(0.0);
        var acc1 = vec4<f32>(0.0);
        var acc2 = vec4<f32>(0.0);
        var acc3 = vec4<f32>(0.0);
        for (var kt = 0u; kt < nKT; kt++) {
          let k0 = kt * TK;
          // Consecutive threads read consecutive k of one vector (memory order).
          for (var r = 0u; r < 4u; r++) {
            let e = tid + r * 128u;
            let m = e / TK;
            let k = e % TK;
            Qs[k * TQ + m] = loadQ(b, i0 + m, k0 + k);
          }
          for (var r = 0u; r < 8u; r++) {
            let e = tid + r * 128u;
            let jj = e / TK;
            let k = e % TK;
            Ds[k * TJ + jj] = loadD(j0 + i32(jj), end, k0 + k);
          }
          workgroupBarrier();
          for (var k = 0u; k < TK; k++) {
            let ai = k * TQ + am;
            let bi = k * TJ + bn;
            let a = vec4<f32>(Qs[ai], Qs[ai + 1u], Qs[ai + 2u], Qs[ai + 3u]);
            let bv = vec4<f32>(Ds[bi], Ds[bi + 1u], Ds[bi + 2u], Ds[bi + 3u]);
            acc0 = fma(vec4<f32>(a.x), bv, acc0);
            acc1 = fma(vec4<f32>(a.y), bv, acc1);
            acc2 = fma(vec4<f32>(a.z), bv, acc2);
            acc3 = fma(vec4<f32>(a.w), bv, acc3);
          }
          workgroupBarrier();
        }
        let j = j0 + i32(bn);
        m0 = fold(m0, acc0, j, end);
        m1 = fold(m1, acc1, j, end);
        m2 = fold(m2, acc2, j, end);
        m3 = fold(m3, acc3, j, end);
      }

      // Each query token's max over the TX threads that saw its doc tokens.
      redV[(am + 0u) * TX + lid.x] = m0.v;
      redI[(am + 0u) * TX + lid.x] = m0.i;
      redV[(am + 1u) * TX + lid.x] = m1.v;
      redI[(am + 1u) * TX + lid.x] = m1.i;
      redV[(am + 2u) * TX + lid.x] = m2.v;
      redI[(am + 2u) * TX + lid.x] = m2.i;
      redV[(am + 3u) * TX + lid.x] = m3.v;
      redI[(am + 3u) * TX + lid.x] = m3.i;
      workgroupBarrier();
      if (tid < TQ) {
        var best = Best(NEG, -1);
        for (var t = 0u; t < TX; t++) {
          let v = redV[tid * TX + t];
          let ix = redI[tid * TX + t];
          if (ix >= 0 && (best.i < 0 || v > best.v || (v == best.v && ix < best.i))) { best = Best(v, ix); }
        }
        let i = i0 + tid;
        var contrib = 0.0;
        if (i < p.Lq) {
          let keep = qmask[b * p.Lq + i] != 0.0;
          if (keep) { contrib = best.v; }
          if (SAVE_ARGMAX) { argmax[(b * p.N + n) * p.Lq + i] = select(-1, best.i, keep); }
        }
        // Into the row's own first slot, which no other thread reads.
        redV[tid * TX] = contrib;
      }
      workgroupBarrier();
      // Query tokens in ascending order by one thread: a fixed summation order. The next writes
      // to redV follow the next tile's barriers, so none is needed after this read.
      if (tid == 0u) {
        for (var t = 0u; t < TQ; t++) { total += redV[t * TX]; }
      }
    }
    if (tid == 0u) { scores[b * p.N + n] = total; }
  }
}

// Backward of maxsim_forward through its saved argmax, deterministic and without float atomics.
// B = queries, Lq = query tokens, dim = vector dim, N = documents, L = doc tokens (ragged),
// total = sum of doc lengths (rows of D). g = dScores [B, N]; argmax [B, N, Lq] (i32 row of D,
// -1 for masked query tokens, which get no gradient and give none).
// WRT 0, dQ: one thread per (b, i, d) gathers over docs in ascending n:
//   dQ[b, i, d] (+)= sum_n g[b, n] * D[argmax[b, n, i], d]           (src = D)
// WRT 1, dD: doc n's rows only receive gradient from doc n's argmaxes, so one thread per (n, d)
// owns column d of all of doc n's rows: it zeroes them (unless ACCUMULATE) and then adds, in
// ascending (b, i), g[b, n] * Q[b, i, d] into the winning row. No two threads write one element.
//   dD[j, d] (+)= sum over (b, i) with argmax[b, n, i] == j of g[b, n] * Q[b, i, d]   (src = Q)
// Both write every element of their output, so no clear is needed first. 2D grid when large.

override WRT: u32 = 0u;
override ACCUMULATE: bool = false;

struct Params { B: u32, Lq: u32, dim: u32, N: u32 }

@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read> argmax: array<i32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read> offsets: array<i32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let t = gid.x + gid.y * nw.x * 256u;
  let row = t / p.dim;
  let d = t % p.dim;
  if (WRT == 0u) {
    if (row >= p.B * p.Lq) { return; }
    let b = row / p.Lq;
    let i = row % p.Lq;
    var s = 0.0;
    for (var n = 0u; n < p.N; n++) {
      let a = argmax[(b * p.N + n) * p.Lq + i];
      if (a >= 0) { s = fma(g[b * p.N + n], src[u32(a) * p.dim + d], s); }
    }
    let o = row * p.dim + d;
    if (ACCUMULATE) { s += dst[o]; }
    dst[o] = s;
  } else {
    let n = row;
    if (n >= p.N) { return; }
    if (!ACCUMULATE) {
      for (var j = u32(offsets[n]); j < u32(offsets[n + 1u]); j++) { dst[j * p.dim + d] = 0.0; }
    }
    for (var b = 0u; b < p.B; b++) {
      let gb = g[b * p.N + n];
      for (var i = 0u; i < p.Lq; i++) {
        let a = argmax[(b * p.N + n) * p.Lq + i];
        if (a >= 0) {
          let o = u32(a) * p.dim + d;
          dst[o] = fma(gb, src[(b * p.Lq + i) * p.dim + d], dst[o]);
        }
      }
    }
  }
}

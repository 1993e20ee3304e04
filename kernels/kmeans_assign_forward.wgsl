// K-means assignment: each vector's nearest centroid by dot product (the vectors and centroids are
// L2-normalized ColBERT token vectors, so the largest dot is the nearest):
//   assign[r] = argmax over c of X[x0 + r] . C[c]   (the lowest c on ties)
// n = vectors assigned, dim = vector dim, K = centroids. X is read from row x0 on, so the host can
// assign a long packed corpus in slices of one buffer.
//
// One thread per vector, 64 per workgroup; the centroids pass through workgroup memory in tiles
// of 16 centroids x 64 dims (4 KiB), each thread keeping its 16 running dots in registers.
// Workgroups form a 2D grid (x, y) past 65535.

struct Params {
  n: u32, dim: u32, K: u32, x0: u32,
}

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> C: array<f32>;
@group(0) @binding(2) var<storage, read_write> assign: array<i32>;
@group(0) @binding(3) var<uniform> p: Params;

const TC: u32 = 16u;  // centroids per tile
const TK: u32 = 64u;  // dims per tile
const NEG: f32 = -3.4028234663852886e38;

var<workgroup> Cs: array<f32, 1024>;  // [TC][TK]

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) tid: u32) {
  let r = (wg.x + wg.y * nw.x) * 64u + tid;
  let live = r < p.n;
  let base = (p.x0 + min(r, p.n - 1u)) * p.dim;
  var best = NEG;
  var bestC = -1;
  for (var c0 = 0u; c0 < p.K; c0 += TC) {
    var acc: array<f32, 16>;
    for (var t = 0u; t < TC; t++) { acc[t] = 0.0; }
    for (var k0 = 0u; k0 < p.dim; k0 += TK) {
      for (var e = tid; e < TC * TK; e += 64u) {
        let c = c0 + e / TK;
        let k = k0 + e % TK;
        var v = 0.0;
        if (c < p.K && k < p.dim) { v = C[c * p.dim + k]; }
        Cs[e] = v;
      }
      workgroupBarrier();
      let kend = min(TK, p.dim - k0);
      for (var kk = 0u; kk < kend; kk++) {
        let xv = X[base + k0 + kk];
        for (var t = 0u; t < TC; t++) { acc[t] = fma(xv, Cs[t * TK + kk], acc[t]); }
      }
      workgroupBarrier();
    }
    // Ascending c with strict '>' keeps the first maximum.
    for (var t = 0u; t < TC; t++) {
      let c = c0 + t;
      if (c < p.K && (bestC < 0 || acc[t] > best)) {
        best = acc[t];
        bestC = i32(c);
      }
    }
  }
  if (live) { assign[r] = bestC; }
}

// Residual decompression (ColBERTv2 / PLAID): a token vector stored as its centroid id plus an
// nbits code per dimension becomes
//   v[d] = C[cid, d] + weights[d, code(d)],   out[out0 + t] = v / |v|
// for the stored rows rows[r0 + t], t < n (a gather: the candidates' tokens, in any order).
// n = rows decompressed, dim = vector dim, K = centroids, nbits = 1, 2, 4 or 8 bits per code,
// W = 32-bit words of codes per row (dim * nbits / 32 rounded up), B = 2^nbits buckets.
// codes [rows, W]: dimension d's code is bits (d * nbits) % 32 .. of word (d * nbits) / 32.
// cids: the centroid ids as 16-bit halves, row r in the low half of word r / 2 when r is even.
// weights [dim, B]: each dimension's bucket values. A zero vector stays zero (no division).
//
// One thread per row, in a grid-stride loop over G workgroups (the host caps G on a CPU adapter,
// where starting a workgroup costs about as much as decompressing a row).

struct Params {
  n: u32, dim: u32, nbits: u32, W: u32,
  out0: u32, r0: u32, stride: u32, _pad: u32,
}

@group(0) @binding(0) var<storage, read> codes: array<u32>;
@group(0) @binding(1) var<storage, read> cids: array<u32>;
@group(0) @binding(2) var<storage, read> rows: array<i32>;
@group(0) @binding(3) var<storage, read> C: array<f32>;
@group(0) @binding(4) var<storage, read> weights: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let nb = 1u << p.nbits;
  let mask = nb - 1u;
  for (var t = gid.x; t < p.n; t += p.stride) {
    let row = u32(rows[p.r0 + t]);
    let cid = (cids[row / 2u] >> (16u * (row % 2u))) & 0xffffu;
    let cb = cid * p.dim;
    let wb = row * p.W;
    let ob = (p.out0 + t) * p.dim;
    var ss = 0.0;
    for (var d = 0u; d < p.dim; d++) {
      let bit = d * p.nbits;
      let code = (codes[wb + bit / 32u] >> (bit % 32u)) & mask;
      let v = C[cb + d] + weights[d * nb + code];
      out[ob + d] = v;
      ss = fma(v, v, ss);
    }
    var inv = 1.0;
    if (ss > 0.0) { inv = inverseSqrt(ss); }
    for (var d = 0u; d < p.dim; d++) { out[ob + d] = out[ob + d] * inv; }
  }
}

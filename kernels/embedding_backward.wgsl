// Embedding backward as a deterministic scatter-add, without float atomics:
//   dweight[uniq[u], d] (+)= sum over k in [offsets[u], offsets[u+1]) of g[positions[k], d]
// V = vocabulary, U = unique ids, D = embedding dim, P = positions (number of ids).
// The host builds the CSR and packs it into one i32 buffer: uniq (U sorted unique ids) at 0,
// offsets (U + 1) at U, positions (P, grouped by id, ascending) at 2U + 1. Each (u, d) is
// summed by one thread in a fixed order, so results are bit-identical run to run. Rows of
// dweight whose id does not occur are not touched: the host clears dweight first when it is
// not accumulating. One thread per (u, d); 2D grid when large.

override ACCUMULATE: bool = false;

struct Params { U: u32, D: u32, _pad0: u32, _pad1: u32 }

@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read> csr: array<i32>;
@group(0) @binding(2) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = gid.x + gid.y * nw.x * 256u;
  if (i >= p.U * p.D) { return; }
  let u = i / p.D;
  let d = i % p.D;
  let offsets = p.U;
  let positions = 2u * p.U + 1u;
  var s = 0.0;
  let end = u32(csr[offsets + u + 1u]);
  for (var k = u32(csr[offsets + u]); k < end; k++) {
    s += g[u32(csr[positions + k]) * p.D + d];
  }
  let o = u32(csr[u]) * p.D + d;
  if (ACCUMULATE) { s += dweight[o]; }
  dweight[o] = s;
}

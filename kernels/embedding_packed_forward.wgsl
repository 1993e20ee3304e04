// Embedding lookup (gather) from a frozen f16 table: out[p, d] = weight[ids[p], d] widened to f32.
// V = vocabulary (rows of weight), D = embedding dim, P = number of ids, DW = ceil(D / 2) words per
// row: the table holds IEEE halves two per u32 (src/tensor/f16.ts; low half = even d), unpacked
// with unpack2x16float (core WGSL). No backward: a packed table is frozen. An out-of-range id that
// still reaches the GPU gives a zero row (the host rejects them). One thread per output element.

struct Params { P: u32, D: u32, V: u32, DW: u32 }

@group(0) @binding(0) var<storage, read> weight: array<u32>;
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = gid.x + gid.y * nw.x * 256u;
  if (i >= p.P * p.D) { return; }
  let pos = i / p.D;
  let d = i % p.D;
  let id = ids[pos];
  var v = 0.0;
  if (id >= 0 && u32(id) < p.V) {
    let pair = unpack2x16float(weight[u32(id) * p.DW + d / 2u]);
    v = select(pair.x, pair.y, (d & 1u) == 1u);
  }
  out[i] = v;
}

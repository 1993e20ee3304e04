// Embedding lookup (gather): out[p, d] = weight[ids[p], d].
// V = vocabulary (rows of weight), D = embedding dim, P = number of ids (positions).
// The host rejects ids outside [0, V); an out-of-range id that still reaches the GPU reads
// nothing and gives a zero row. One thread per output element; 2D grid when large.

struct Params { P: u32, D: u32, V: u32, _pad: u32 }

@group(0) @binding(0) var<storage, read> weight: array<f32>;
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
  if (id >= 0 && u32(id) < p.V) { v = weight[u32(id) * p.D + d]; }
  out[i] = v;
}

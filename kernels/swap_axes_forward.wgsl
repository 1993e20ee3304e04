// Swap the middle two axes of a 4-D tensor: out[a, y, x, z] (+)= in[a, x, y, z].
// A = outer batch, X and Y = the swapped axes, Z = the inner, contiguous axis.
// Moves heads in front of tokens ([B, T, H, Dh] -> [B, H, T, Dh]) and back. Its own backward is
// the same kernel with X and Y exchanged (ACCUMULATE adds into an existing gradient).

override ACCUMULATE: bool = false;

struct Params { A: u32, X: u32, Y: u32, Z: u32 }

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = gid.x + gid.y * nw.x * 256u;  // output index, output laid out [A, Y, X, Z]
  if (i >= p.A * p.X * p.Y * p.Z) { return; }
  let z = i % p.Z;
  var r = i / p.Z;
  let x = r % p.X;
  r = r / p.X;
  let y = r % p.Y;
  let a = r / p.Y;
  var v = src[((a * p.X + x) * p.Y + y) * p.Z + z];
  if (ACCUMULATE) { v += dst[i]; }
  dst[i] = v;
}

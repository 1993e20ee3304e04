// Backward of the last-dim reductions: dx[r, j] (+)= the gradient reaching x[r, j] from out[r].
// R = rows, N = row length; one thread per element of dx, 2D grid when large.
// OP: 0 sum / 1 mean: dx[r, j] = scale * g[r] (scale = 1 or 1/N).
//     2 max: dx[r, j] = g[r] where j == argmax[r] (the first max, from the forward), else 0.

override OP: u32 = 0u;
override ACCUMULATE: bool = false;

struct Params { R: u32, N: u32, scale: f32, _pad: u32 }

@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read> argmax: array<i32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = gid.x + gid.y * nw.x * 256u;
  if (i >= p.R * p.N) { return; }
  let r = i / p.N;
  let j = i % p.N;
  var v = 0.0;
  if (OP == 2u) {
    if (i32(j) == argmax[r]) { v = g[r]; }
  } else {
    v = p.scale * g[r];
  }
  if (ACCUMULATE) { v += dx[i]; }
  dx[i] = v;
}

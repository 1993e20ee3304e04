// Backward of SwiGLU, one input per dispatch (so each gradient gets its own ACCUMULATE, and
// swiglu(x, x) never binds one gradient buffer twice). n = elements.
// WRT_UP = false: dgate[i] (+)= g[i] * up[i] * s (1 + a (1 - s)), s = sigmoid(a), a = gate[i]
// WRT_UP = true:  dup[i]   (+)= g[i] * silu(a)

override WRT_UP: bool = false;
override ACCUMULATE: bool = false;

struct Params { n: u32 }

@group(0) @binding(0) var<storage, read> gate: array<f32>;
@group(0) @binding(1) var<storage, read> up: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = gid.x + gid.y * nw.x * 256u;
  if (i >= p.n) { return; }
  let a = gate[i];
  let s = 1.0 / (1.0 + exp(-a));
  // Both inputs are read on both paths so the auto bind-group layout is the same for either.
  let u = up[i];
  var r: f32;
  if (WRT_UP) { r = g[i] * a * s; }
  else { r = g[i] * u * s * (1.0 + a * (1.0 - s)); }
  if (ACCUMULATE) { r += dst[i]; }
  dst[i] = r;
}

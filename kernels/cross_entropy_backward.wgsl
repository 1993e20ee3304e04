// Backward of the fused cross-entropy: dlogits[r, v] (+)= (softmax[r, v] - [v == target[r]]) * gs
// with softmax recomputed as exp(logits - lse[r]) from the forward's per-row logsumexp.
// R = rows, V = classes. gs = g[r] * scale when PER_ROW (reduction 'none'), else g[0] * scale
// (scale = 1 for 'sum', 1/count of non-ignored targets for 'mean'). The upstream gradient g is
// read from its GPU buffer, never from the host. Rows whose target is ignoreIndex, or outside
// [0, V), get a zero gradient. One thread per element; 2D grid when large.

override PER_ROW: bool = false;
override ACCUMULATE: bool = false;

struct Params { R: u32, V: u32, ignoreIndex: i32, scale: f32 }

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<i32>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = gid.x + gid.y * nw.x * 256u;
  if (i >= p.R * p.V) { return; }
  let r = i / p.V;
  let v = i % p.V;
  let t = targets[r];
  var d = 0.0;
  if (t != p.ignoreIndex && t >= 0 && u32(t) < p.V) {
    var gs: f32;
    if (PER_ROW) { gs = g[r]; } else { gs = g[0]; }
    gs *= p.scale;
    d = exp(logits[i] - lse[r]);
    if (u32(t) == v) { d -= 1.0; }
    d *= gs;
  }
  if (ACCUMULATE) { d += dlogits[i]; }
  dlogits[i] = d;
}

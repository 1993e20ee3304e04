// SwiGLU (Llama MLP): out[i] = silu(gate[i]) * up[i] = gate[i] * sigmoid(gate[i]) * up[i].
// n = elements; gate, up and out share one shape.

struct Params { n: u32 }

@group(0) @binding(0) var<storage, read> gate: array<f32>;
@group(0) @binding(1) var<storage, read> up: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = gid.x + gid.y * nw.x * 256u;
  if (i >= p.n) { return; }
  let a = gate[i];
  out[i] = a / (1.0 + exp(-a)) * up[i];
}

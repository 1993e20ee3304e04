// Elementwise activations: out[i] = f(x[i]) over n elements.
// OP: 0 gelu      0.5 x (1 + erf(x / sqrt 2)), the exact form of HF BERT's "gelu"
//     1 gelu_tanh 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), HF "gelu_new"
//     2 silu      x sigmoid(x) (Llama's MLP act)
//     3 relu      max(x, 0)
// Derivatives are in unary_backward.wgsl; both include one_plus_erf and tanh_ from lib/erf.wgsl.

override OP: u32 = 0u;

struct Params { n: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

const SQRT1_2: f32 = 0.70710678118654752;
const GELU_K: f32 = 0.79788456080286536; // sqrt(2 / pi)

//!include lib/erf

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = gid.x + gid.y * nw.x * 256u;
  if (i >= p.n) { return; }
  let v = x[i];
  var r: f32;
  switch (OP) {
    case 0u: { r = 0.5 * v * one_plus_erf(v * SQRT1_2); }
    case 1u: { r = 0.5 * v * (1.0 + tanh_(GELU_K * (v + 0.044715 * v * v * v))); }
    case 2u: { r = v / (1.0 + exp(-v)); }
    default: { r = max(v, 0.0); }
  }
  out[i] = r;
}

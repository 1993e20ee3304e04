// Elementwise activations: out[i] = f(x[i]) over n elements.
// OP: 0 gelu      0.5 x (1 + erf(x / sqrt 2)), the exact form of HF BERT's "gelu"
//     1 gelu_tanh 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), HF "gelu_new"
//     2 silu      x sigmoid(x) (Llama's MLP act)
//     3 relu      max(x, 0)
// Derivatives are in unary_backward.wgsl, which carries identical copies of one_plus_erf
// and tanh_: change one, change both (WGSL has no includes).

override OP: u32 = 0u;

struct Params { n: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

const SQRT1_2: f32 = 0.70710678118654752;
const GELU_K: f32 = 0.79788456080286536; // sqrt(2 / pi)

// 1 + erf(z), which is all gelu needs. WGSL has no erf: near 0 the Maclaurin series (first
// dropped term < 4e-9 at |z| = 0.5); elsewhere Abramowitz & Stegun 7.1.26, erfc(a) ~ poly(t)
// exp(-a^2) with t = 1 / (1 + 0.3275911 a), |error| <= 1.5e-7. For z < 0 the result is that
// erfc directly, not 1 minus a number near 1, so gelu's negative tail does not cancel.
fn one_plus_erf(z: f32) -> f32 {
  let a = abs(z);
  if (a < 0.5) {
    let s = a * a;
    let poly = 1.0 + s * (-1.0 / 3.0 + s * (1.0 / 10.0 + s * (-1.0 / 42.0 + s * (1.0 / 216.0 + s * (-1.0 / 1320.0)))));
    return 1.0 + z * 1.1283791670955126 * poly;
  }
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * exp(-a * a);
  return select(2.0 - erfc, erfc, z < 0.0);
}

// tanh written so that a large |u| gives +-1, never inf / inf.
fn tanh_(u: f32) -> f32 {
  let e = exp(-2.0 * abs(u));
  return sign(u) * (1.0 - e) / (1.0 + e);
}

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

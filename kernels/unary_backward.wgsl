// Backward of the elementwise activations: dx[i] (+)= g[i] * f'(x[i]) over n elements.
// OP codes as in unary_forward.wgsl; one_plus_erf and tanh_ are identical copies of the ones there.
//   gelu'(x)      = Phi(x) + x phi(x) = 0.5 (1 + erf(x / sqrt 2)) + x exp(-x^2 / 2) / sqrt(2 pi)
//   gelu_tanh'(x) = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
//   silu'(x)      = s (1 + x (1 - s)), s = sigmoid(x)
//   relu'(x)      = 1 if x > 0 else 0 (0 at x = 0, as PyTorch)

override OP: u32 = 0u;
override ACCUMULATE: bool = false;

struct Params { n: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

const SQRT1_2: f32 = 0.70710678118654752;
const INV_SQRT_2PI: f32 = 0.39894228040143268;
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

fn tanh_(u: f32) -> f32 {
  let e = exp(-2.0 * abs(u));
  return sign(u) * (1.0 - e) / (1.0 + e);
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = gid.x + gid.y * nw.x * 256u;
  if (i >= p.n) { return; }
  let v = x[i];
  var d: f32;
  switch (OP) {
    case 0u: { d = 0.5 * one_plus_erf(v * SQRT1_2) + v * INV_SQRT_2PI * exp(-0.5 * v * v); }
    case 1u: {
      let t = tanh_(GELU_K * (v + 0.044715 * v * v * v));
      d = 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * GELU_K * (1.0 + 3.0 * 0.044715 * v * v);
    }
    case 2u: {
      let s = 1.0 / (1.0 + exp(-v));
      d = s * (1.0 + v * (1.0 - s));
    }
    default: { d = select(0.0, 1.0, v > 0.0); }
  }
  var r = g[i] * d;
  if (ACCUMULATE) { r += dx[i]; }
  dx[i] = r;
}

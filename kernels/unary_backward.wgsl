// Backward of the elementwise activations: dx[i] (+)= g[i] * f'(x[i]) over n elements.
// OP codes as in unary_forward.wgsl; one_plus_erf and tanh_ come from lib/erf.wgsl.
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

//!include lib/erf

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

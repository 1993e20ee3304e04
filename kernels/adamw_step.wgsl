// One AdamW step (Loshchilov & Hutter; PyTorch's torch.optim.AdamW semantics) for one parameter,
// with the global-norm clip folded in. n = elements of the parameter.
//   g' = g * clip,  clip = maxNorm / (norm + 1e-6) when maxNorm > 0 and norm > maxNorm, else 1
//   m = b1 m + (1 - b1) g'          v = b2 v + (1 - b2) g'^2
//   p = p (1 - lr wd) - lr (m / bc1) / (sqrt(v / bc2) + eps),  bc_i = 1 - b_i^t
// The norm is read from the GPU (sumsq_forward) so clipping needs no CPU round trip.

struct Params { n: u32, lr: f32, b1: f32, b2: f32, eps: f32, wd: f32, bc1: f32, bc2: f32, maxNorm: f32 }

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read> norm: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = gid.x + gid.y * nw.x * 256u;
  if (i >= p.n) { return; }
  var clip = 1.0;
  let total = norm[0];
  if (p.maxNorm > 0.0 && total > p.maxNorm) { clip = p.maxNorm / (total + 1e-6); }
  let g = grad[i] * clip;
  let mi = p.b1 * m[i] + (1.0 - p.b1) * g;
  let vi = p.b2 * v[i] + (1.0 - p.b2) * g * g;
  m[i] = mi;
  v[i] = vi;
  let update = (mi / p.bc1) / (sqrt(vi / p.bc2) + p.eps);
  param[i] = param[i] * (1.0 - p.lr * p.wd) - p.lr * update;
}

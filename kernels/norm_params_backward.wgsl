// Gradients of a norm's per-column parameters, summed over rows. R = rows, D = last dim.
// One thread per column j, looping over the R rows (reads of a row are coalesced across threads).
//   GRAD_BIAS = false: dweight[j] (+)= sum_r g[r, j] * xhat[r, j]   (gamma, rmsnorm weight)
//   GRAD_BIAS = true:  dbias[j]   (+)= sum_r g[r, j]                (beta)
// HAS_MEAN = true (layernorm): stats[2r] = mean, stats[2r + 1] = rstd, xhat = (x - mean) * rstd.
// HAS_MEAN = false (rmsnorm):  stats[r] = rstd, xhat = x * rstd.

override HAS_MEAN: bool = true;
override GRAD_BIAS: bool = false;
override ACCUMULATE: bool = false;

struct Params { rows: u32, D: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let j = gid.x + gid.y * nw.x * 256u;
  if (j >= p.D) { return; }
  var s = 0.0;
  for (var r = 0u; r < p.rows; r++) {
    let gv = g[r * p.D + j];
    if (GRAD_BIAS) {
      s += gv;
    } else if (HAS_MEAN) {
      s += gv * (x[r * p.D + j] - stats[2u * r]) * stats[2u * r + 1u];
    } else {
      s += gv * x[r * p.D + j] * stats[r];
    }
  }
  if (ACCUMULATE) { s += dst[j]; }
  dst[j] = s;
}

// RMSNorm backward, input gradient. R = rows, D = last dim; rstd per row from rmsnorm_forward.
// With xhat = x * rstd and dxhat = g * (weight + WEIGHT_OFFSET):
//   dx (+)= rstd * (dxhat - xhat * mean_j(dxhat * xhat))
// One workgroup of 256 threads per row, striding over D; or, with ROW_PER_THREAD, one thread per
// row and no barriers (many rows on a software adapter). dweight: norm_params_backward.wgsl.

override ACCUMULATE: bool = false;
override ROW_PER_THREAD: bool = false;
// Gemma scales by (1 + w): the stored weight plus this offset (0 for Llama).
override WEIGHT_OFFSET: f32 = 0.0;

struct Params { rows: u32, D: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

const WG: u32 = 256u;

//!include lib/wg_sum

fn gradRow(row: u32) {
  let base = row * p.D;
  let rstd = stats[row];
  var s = 0.0;
  for (var j = 0u; j < p.D; j++) { s += g[base + j] * (weight[j] + WEIGHT_OFFSET) * x[base + j] * rstd; }
  let m = s / f32(p.D);
  for (var j = 0u; j < p.D; j++) {
    let xhat = x[base + j] * rstd;
    var r = rstd * (g[base + j] * (weight[j] + WEIGHT_OFFSET) - xhat * m);
    if (ACCUMULATE) { r += dx[base + j]; }
    dx[base + j] = r;
  }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  if (ROW_PER_THREAD) {
    let r = (wg.x + wg.y * nw.x) * WG + lid;
    if (r < p.rows) { gradRow(r); }
    return;
  }
  let row = wg.x + wg.y * nw.x;
  if (row >= p.rows) { return; }
  let base = row * p.D;
  let rstd = stats[row];
  var s = 0.0;
  for (var j = lid; j < p.D; j += WG) {
    s += g[base + j] * (weight[j] + WEIGHT_OFFSET) * x[base + j] * rstd;
  }
  let m = wgSum(s, lid) / f32(p.D);
  for (var j = lid; j < p.D; j += WG) {
    let xhat = x[base + j] * rstd;
    var r = rstd * (g[base + j] * (weight[j] + WEIGHT_OFFSET) - xhat * m);
    if (ACCUMULATE) { r += dx[base + j]; }
    dx[base + j] = r;
  }
}

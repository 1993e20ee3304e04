// RMSNorm over the last dim (Llama): y = x * rstd * (weight + WEIGHT_OFFSET), rstd = 1 / sqrt(mean_j(x^2) + eps).
// R = rows (every leading dim flattened), D = last dim. One workgroup of 256 threads per row
// (row = wg.x + wg.y * nw.x), striding over D; or, with ROW_PER_THREAD, one thread per row and no
// barriers (many rows on a software adapter). SAVE_STATS writes rstd to stats[r] for
// rmsnorm_backward and norm_params_backward (inference binds a dummy and skips the write).

override SAVE_STATS: bool = false;
override ROW_PER_THREAD: bool = false;
// Gemma scales by (1 + w): the stored weight plus this offset (0 for Llama).
override WEIGHT_OFFSET: f32 = 0.0;

struct Params { rows: u32, D: u32, eps: f32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

const WG: u32 = 256u;

//!include lib/wg_sum

fn normRow(row: u32) {
  let base = row * p.D;
  var q = 0.0;
  for (var j = 0u; j < p.D; j++) {
    let v = x[base + j];
    q += v * v;
  }
  let rstd = inverseSqrt(q / f32(p.D) + p.eps);
  for (var j = 0u; j < p.D; j++) { out[base + j] = x[base + j] * rstd * (weight[j] + WEIGHT_OFFSET); }
  if (SAVE_STATS) { stats[row] = rstd; }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  if (ROW_PER_THREAD) {
    let r = (wg.x + wg.y * nw.x) * WG + lid;
    if (r < p.rows) { normRow(r); }
    return;
  }
  let row = wg.x + wg.y * nw.x;
  if (row >= p.rows) { return; }
  let base = row * p.D;
  var q = 0.0;
  for (var j = lid; j < p.D; j += WG) {
    let v = x[base + j];
    q += v * v;
  }
  let rstd = inverseSqrt(wgSum(q, lid) / f32(p.D) + p.eps);
  for (var j = lid; j < p.D; j += WG) {
    out[base + j] = x[base + j] * rstd * (weight[j] + WEIGHT_OFFSET);
  }
  if (SAVE_STATS && lid == 0u) { stats[row] = rstd; }
}

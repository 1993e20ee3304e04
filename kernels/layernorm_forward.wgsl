// LayerNorm over the last dim (HF BERT, post-LN): y = (x - mean) * rstd * gamma + beta with
// rstd = 1 / sqrt(var + eps) and the biased variance (divide by D), as torch.nn.LayerNorm.
// R = rows (every leading dim flattened), D = last dim.
// One workgroup of 256 threads per row (row = wg.x + wg.y * nw.x, so R may pass 65535);
// threads stride over D, so any D works. Two passes over the row (mean, then squared
// deviations) rather than E[x^2] - mean^2, which cancels badly in f32 when |mean| >> std.
// ROW_PER_THREAD: one thread normalises a whole row instead, with no barriers (many rows on a
// software adapter, where each workgroup barrier is a round of fiber switches).
// SAVE_STATS: write mean and rstd to stats[2r], stats[2r + 1] for layernorm_backward and
// norm_params_backward (inference binds a dummy and skips the writes).

override SAVE_STATS: bool = false;
override ROW_PER_THREAD: bool = false;

struct Params { rows: u32, D: u32, eps: f32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read> beta: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

const WG: u32 = 256u;

//!include lib/wg_sum

fn normRow(row: u32) {
  let base = row * p.D;
  let inv = 1.0 / f32(p.D);
  // Sum x - x0, not x: a sequential f32 sum of values with |mean| >> std loses the mean's low
  // bits (the workgroup path's tree sum does not), the shifted sum keeps them.
  let x0 = x[base];
  var s = 0.0;
  for (var j = 0u; j < p.D; j++) { s += x[base + j] - x0; }
  let mean = x0 + s * inv;
  var q = 0.0;
  for (var j = 0u; j < p.D; j++) {
    let d = x[base + j] - mean;
    q += d * d;
  }
  let rstd = inverseSqrt(q * inv + p.eps);
  for (var j = 0u; j < p.D; j++) { out[base + j] = (x[base + j] - mean) * rstd * gamma[j] + beta[j]; }
  if (SAVE_STATS) {
    stats[2u * row] = mean;
    stats[2u * row + 1u] = rstd;
  }
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
  if (row >= p.rows) { return; } // whole workgroup: uniform
  let base = row * p.D;
  let inv = 1.0 / f32(p.D);

  var s = 0.0;
  for (var j = lid; j < p.D; j += WG) { s += x[base + j]; }
  let mean = wgSum(s, lid) * inv;

  var q = 0.0;
  for (var j = lid; j < p.D; j += WG) {
    let d = x[base + j] - mean;
    q += d * d;
  }
  let rstd = inverseSqrt(wgSum(q, lid) * inv + p.eps);

  for (var j = lid; j < p.D; j += WG) {
    out[base + j] = (x[base + j] - mean) * rstd * gamma[j] + beta[j];
  }
  if (SAVE_STATS && lid == 0u) {
    stats[2u * row] = mean;
    stats[2u * row + 1u] = rstd;
  }
}

// Backward of attn_probs_forward, a thread per row, from its output P:
//   dS[r, j] = P[r, j] * (dP[r, j] - sum_k dP[r, k] P[r, k])
// Keys that were not kept have P = 0, so they take no gradient and need no mask here.
// R = rows, T = keys per row. ACCUMULATE adds into dS.

override ACCUMULATE: bool = false;

struct Params { R: u32, T: u32, rowsPerBatch: u32, _pad: u32 }

@group(0) @binding(0) var<storage, read> prob: array<f32>;
@group(0) @binding(1) var<storage, read> dp: array<f32>;
@group(0) @binding(2) var<storage, read_write> ds: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

const WG: u32 = 64u;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let r = (wg.x + wg.y * nw.x) * WG + lid;
  if (r >= p.R) { return; }
  let base = r * p.T;
  var dot = 0.0;
  for (var j = 0u; j < p.T; j++) { dot += dp[base + j] * prob[base + j]; }
  for (var j = 0u; j < p.T; j++) {
    var v = prob[base + j] * (dp[base + j] - dot);
    if (ACCUMULATE) { v += ds[base + j]; }
    ds[base + j] = v;
  }
}

// Attention probabilities from materialised scores, a thread per row (no barriers):
//   P[r, j] = exp(S[r, j] - m) / sum over the row's kept keys of exp(S[r, k] - m)
// where key j is kept when (not CAUSAL or j <= t) and (not HAS_MASK or mask[b * T + j] != 0),
// t = r % T is the row's query position and b = r / rowsPerBatch its batch; m is the kept max.
// Entries not kept are 0, and a row with no kept key is all 0 (its query outputs 0).
// R = rows (every (batch, head, query) of [B * Hkv, g * T, T] scores), T = keys per row = query
// positions, rowsPerBatch = H * T. The softmax scale is applied by the matmul that makes S.

override CAUSAL: bool = true;
override HAS_MASK: bool = false;

struct Params { R: u32, T: u32, rowsPerBatch: u32, _pad: u32 }

@group(0) @binding(0) var<storage, read> s: array<f32>;
@group(0) @binding(1) var<storage, read> mask: array<f32>;
@group(0) @binding(2) var<storage, read_write> prob: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

const WG: u32 = 64u;
const NEG_INF: f32 = -3.4028234663852886e38;

fn kept(mbase: u32, j: u32) -> bool {
  return !HAS_MASK || mask[mbase + j] != 0.0;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let r = (wg.x + wg.y * nw.x) * WG + lid;
  if (r >= p.R) { return; }
  let base = r * p.T;
  let mbase = (r / p.rowsPerBatch) * p.T;
  var end = p.T;
  if (CAUSAL) { end = r % p.T + 1u; }
  var m = NEG_INF;
  for (var j = 0u; j < end; j++) {
    if (kept(mbase, j)) { m = max(m, s[base + j]); }
  }
  var total = 0.0;
  for (var j = 0u; j < end; j++) {
    if (kept(mbase, j)) { total += exp(s[base + j] - m); }
  }
  // total >= 1 when any key is kept; 0 otherwise, and then every entry below is 0.
  let inv = select(0.0, 1.0 / total, total > 0.0);
  for (var j = 0u; j < p.T; j++) {
    var v = 0.0;
    if (j < end && kept(mbase, j)) { v = exp(s[base + j] - m) * inv; }
    prob[base + j] = v;
  }
}

// Fused cross-entropy from logits, without materialising the softmax:
//   lse[r]  = log sum_v exp(logits[r, v])           (max-subtracted)
//   loss[r] = lse[r] - logits[r, target[r]], or 0 when target[r] == ignoreIndex.
// R = rows, V = classes (vocabulary). A target outside [0, V) that is not ignoreIndex is never
// read: its loss is NaN so the bad label shows up in the loss (the host rejects such targets
// whenever it knows them, so this is a last line of defence).
// One workgroup per row; strided loops for V > 256; 2D grid when R > 65535.

struct Params { R: u32, V: u32, ignoreIndex: i32, _pad: u32 }

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<i32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> lse: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

const WG: u32 = 256u;
const NEG_INF: f32 = -3.4028234663852886e38;

var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) tid: u32) {
  let row = wg.x + wg.y * nw.x;
  if (row >= p.R) { return; }  // uniform per workgroup
  let base = row * p.V;

  var m = NEG_INF;
  for (var j = tid; j < p.V; j += WG) { m = max(m, logits[base + j]); }
  red[tid] = m;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (tid < s) { red[tid] = max(red[tid], red[tid + s]); }
    workgroupBarrier();
  }
  m = red[0];
  workgroupBarrier();

  var acc = 0.0;
  for (var j = tid; j < p.V; j += WG) { acc += exp(logits[base + j] - m); }
  red[tid] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (tid < s) { red[tid] += red[tid + s]; }
    workgroupBarrier();
  }

  if (tid == 0u) {
    let l = m + log(red[0]);
    lse[row] = l;
    let t = targets[row];
    var v = 0.0;
    if (t != p.ignoreIndex) {
      if (t >= 0 && u32(t) < p.V) { v = l - logits[base + u32(t)]; }
      else {
        // NaN: an out-of-range target reached the GPU. Built from a uniform (0) because WGSL
        // rejects a NaN constant expression.
        v = bitcast<f32>(0x7fc00000u | p._pad);
      }
    }
    loss[row] = v;
  }
}

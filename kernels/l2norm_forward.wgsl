// L2 normalisation over the last dim (ColBERT token vectors, torch.nn.functional.normalize):
// y = x / max(||x||, eps). R = rows (every leading dim flattened), D = last dim.
// One workgroup of 256 threads per row (row = wg.x + wg.y * nw.x), striding over D; or, with
// ROW_PER_THREAD, one thread per row and no barriers (many rows, or a software adapter).

override ROW_PER_THREAD: bool = false;

struct Params { rows: u32, D: u32, eps: f32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

const WG: u32 = 256u;

//!include lib/wg_sum

fn normRow(row: u32) {
  let base = row * p.D;
  var q = 0.0;
  for (var j = 0u; j < p.D; j++) {
    let v = x[base + j];
    q += v * v;
  }
  let inv = 1.0 / max(sqrt(q), p.eps);
  for (var j = 0u; j < p.D; j++) { out[base + j] = x[base + j] * inv; }
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
  let inv = 1.0 / max(sqrt(wgSum(q, lid)), p.eps);
  for (var j = lid; j < p.D; j += WG) { out[base + j] = x[base + j] * inv; }
}

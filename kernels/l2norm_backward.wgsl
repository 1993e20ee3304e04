// Backward of y = x / max(||x||, eps) over the last dim. R = rows, D = last dim.
// With n = ||x||:  n >= eps: dx (+)= (g - x * (x . g) / n^2) / n
//                  n <  eps: dx (+)= g / eps   (the clamp is constant there, as in PyTorch)
// One workgroup of 256 threads per row; ||x||^2 and x . g come from one reduction. With
// ROW_PER_THREAD, one thread per row and no barriers (many rows, or a software adapter).

override ACCUMULATE: bool = false;
override ROW_PER_THREAD: bool = false;

struct Params { rows: u32, D: u32, eps: f32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

const WG: u32 = 256u;

//!include lib/wg_sum

fn gradRow(row: u32) {
  let base = row * p.D;
  var t = vec2<f32>(0.0);
  for (var j = 0u; j < p.D; j++) {
    let v = x[base + j];
    t += vec2<f32>(v * v, v * g[base + j]);
  }
  let n = sqrt(t.x);
  let clamped = n < p.eps;
  let inv = 1.0 / select(n, p.eps, clamped);
  let proj = select(t.y * inv * inv, 0.0, clamped);
  for (var j = 0u; j < p.D; j++) {
    var r = (g[base + j] - x[base + j] * proj) * inv;
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
  var acc = vec2<f32>(0.0);
  for (var j = lid; j < p.D; j += WG) {
    let v = x[base + j];
    acc += vec2<f32>(v * v, v * g[base + j]);
  }
  let t = wgSum2(acc, lid);
  let n = sqrt(t.x);
  // Below eps the output is x / eps, linear in x: the projection term drops out.
  let clamped = n < p.eps;
  let inv = 1.0 / select(n, p.eps, clamped);
  let proj = select(t.y * inv * inv, 0.0, clamped);
  for (var j = lid; j < p.D; j += WG) {
    var r = (g[base + j] - x[base + j] * proj) * inv;
    if (ACCUMULATE) { r += dx[base + j]; }
    dx[base + j] = r;
  }
}

// Sum of squares in two passes, for global-norm gradient clipping.
// n = elements of x. Pass 1 (FINAL = false): workgroup w writes sum(x[w*CHUNK .. (w+1)*CHUNK)^2)
// to out[p.offset + w]. Pass 2 (FINAL = true): one workgroup sums x[0..n) (the partials of every
// parameter) and writes sqrt(total) to out[p.offset]. Partials keep f32 rounding error at
// O(log n) instead of one long serial sum.

override FINAL: bool = false;

struct Params { n: u32, offset: u32, chunk: u32, _pad: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

var<workgroup> part: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nw: vec3<u32>) {
  let w = wg.x + wg.y * nw.x;
  // A 2D grid can overshoot the partial count; those workgroups must not write a neighbour's slot.
  if (!FINAL && w * p.chunk >= p.n) { return; }
  var start = w * p.chunk;
  var end = min(start + p.chunk, p.n);
  if (FINAL) { start = 0u; end = p.n; }
  var s = 0.0;
  for (var i = start + lid.x; i < end; i += 256u) {
    let v = x[i];
    s += select(v * v, v, FINAL);  // pass 2 sums partials that are already squared
  }
  part[lid.x] = s;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride >>= 1u) {
    if (lid.x < stride) { part[lid.x] += part[lid.x + stride]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    if (FINAL) { out[p.offset] = sqrt(part[0]); } else { out[p.offset + w] = part[0]; }
  }
}

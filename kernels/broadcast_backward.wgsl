// Backward of broadcasting: sum a gradient of the output's shape down to an input's shape.
// out[j] (+)= alpha * sum over every i of g that broadcasting mapped to j.
// n = target elements; rank <= 8. kept[d] is the target's dim (1 where reduced); red[d] is the
// output's dim where reduced (1 where kept); strides are the output's contiguous strides.

override ACCUMULATE: bool = false;

struct Params {
  n: u32, rank: u32, count: u32, alpha: f32,
  kept: array<vec4<u32>, 2>,
  red: array<vec4<u32>, 2>,
  strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

fn at(v: array<vec4<u32>, 2>, d: u32) -> u32 { return v[d / 4u][d % 4u]; }

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let j = gid.x + gid.y * nw.x * 256u;
  if (j >= p.n) { return; }
  var base = 0u;
  var rem = j;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let dim = at(p.kept, u32(d));
    base += (rem % dim) * at(p.strides, u32(d));
    rem = rem / dim;
  }
  var s = 0.0;
  for (var r = 0u; r < p.count; r++) {
    var off = base;
    var q = r;
    for (var d = i32(p.rank) - 1; d >= 0; d--) {
      let dim = at(p.red, u32(d));
      off += (q % dim) * at(p.strides, u32(d));
      q = q / dim;
    }
    s += g[off];
  }
  var v = p.alpha * s;
  if (ACCUMULATE) { v += out[j]; }
  out[j] = v;
}

// Elementwise a (op) b with NumPy broadcasting: out[i] (+)= alpha * (a[ia(i)] op b[ib(i)]).
// n = output elements; shapes up to rank 8, given as the output shape plus each input's strides
// (0 on a broadcast dim). OP: 0 add, 1 sub, 2 mul, 3 div, 4 first (a alone:
// with alpha, a scaled copy). SAME skips index math when a, b and
// out all share one shape; B_TAIL when a has out's shape and b is out's trailing dims repeated
// (a bias row, a per-token table): ib = i % bn. Both avoid the per-dim divisions, which cost
// more than the arithmetic on software adapters.

override OP: u32 = 0u;
override SAME: bool = false;
override B_TAIL: bool = false;
override ACCUMULATE: bool = false;

struct Params {
  n: u32, rank: u32, alpha: f32, bn: u32,
  shape: array<vec4<u32>, 2>,
  sa: array<vec4<u32>, 2>,
  sb: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

fn at(v: array<vec4<u32>, 2>, d: u32) -> u32 { return v[d / 4u][d % 4u]; }

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = gid.x + gid.y * nw.x * 256u;
  if (i >= p.n) { return; }
  var ia = i;
  var ib = i;
  if (B_TAIL) {
    ib = i % p.bn;
  } else if (!SAME) {
    ia = 0u; ib = 0u;
    var rem = i;
    for (var d = i32(p.rank) - 1; d >= 0; d--) {
      let dim = at(p.shape, u32(d));
      let c = rem % dim;
      rem = rem / dim;
      ia += c * at(p.sa, u32(d));
      ib += c * at(p.sb, u32(d));
    }
  }
  let x = a[ia];
  let y = b[ib];
  var r: f32;
  switch (OP) {
    case 0u: { r = x + y; }
    case 1u: { r = x - y; }
    case 2u: { r = x * y; }
    case 3u: { r = x / y; }
    default: { r = x; }
  }
  r = p.alpha * r;
  if (ACCUMULATE) { r += out[i]; }
  out[i] = r;
}

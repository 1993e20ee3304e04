// Reduce each row of a [R, N] matrix over its last dim: out[r] = OP(x[r, :]).
// R = rows (every leading dim flattened), N = row length.
// OP: 0 sum (times `scale`), 1 mean (scale = 1/N, set by the host), 2 max. For max the kernel
// also writes argmax[r] (i32, the FIRST index of the maximum) when WRITE_ARGMAX, so the backward
// can route g there (without a backward, argmax is a small unused placeholder).
// One workgroup per row: a strided loop over the row (rows longer than 256), then a tree
// reduction in workgroup memory. Workgroups form a 2D grid when R > 65535.
// ROW_PER_THREAD (many short rows): one thread reduces a whole row instead, with no workgroup
// memory or barriers; 256 rows per workgroup. Same results and tie rule.

override OP: u32 = 0u;
override WRITE_ARGMAX: bool = false;
override ROW_PER_THREAD: bool = false;

struct Params { R: u32, N: u32, scale: f32, _pad: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> argmax: array<i32>;
@group(0) @binding(3) var<uniform> p: Params;

const WG: u32 = 256u;
const NEG_INF: f32 = -3.4028234663852886e38;

var<workgroup> sv: array<f32, 256>;
var<workgroup> si: array<u32, 256>;

// (value, index) of the larger; on equal values the smaller index wins (first max).
fn better(va: f32, ia: u32, vb: f32, ib: u32) -> bool {
  return vb > va || (vb == va && ib < ia);
}

fn reduceRow(row: u32) {
  let base = row * p.N;
  if (OP == 2u) {
    var bv = NEG_INF;
    var bi = 0xffffffffu;
    for (var j = 0u; j < p.N; j++) {
      let v = x[base + j];
      if (bi == 0xffffffffu || better(bv, bi, v, j)) { bv = v; bi = j; }
    }
    out[row] = bv;
    if (WRITE_ARGMAX) { argmax[row] = i32(bi); }
  } else {
    var acc = 0.0;
    for (var j = 0u; j < p.N; j++) { acc += x[base + j]; }
    out[row] = p.scale * acc;
  }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) tid: u32) {
  if (ROW_PER_THREAD) {
    let r = (wg.x + wg.y * nw.x) * WG + tid;
    if (r < p.R) { reduceRow(r); }
    return;
  }
  let row = wg.x + wg.y * nw.x;
  if (row >= p.R) { return; }  // uniform per workgroup
  let base = row * p.N;

  if (OP == 2u) {
    var bv = NEG_INF;
    var bi = 0xffffffffu;
    for (var j = tid; j < p.N; j += WG) {
      let v = x[base + j];
      if (bi == 0xffffffffu || better(bv, bi, v, j)) { bv = v; bi = j; }
    }
    sv[tid] = bv;
    si[tid] = bi;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
      if (tid < s) {
        let ob = si[tid + s];
        if (ob != 0xffffffffu && (si[tid] == 0xffffffffu || better(sv[tid], si[tid], sv[tid + s], ob))) {
          sv[tid] = sv[tid + s];
          si[tid] = ob;
        }
      }
      workgroupBarrier();
    }
    if (tid == 0u) {
      out[row] = sv[0];
      if (WRITE_ARGMAX) { argmax[row] = i32(si[0]); }
    }
  } else {
    var acc = 0.0;
    for (var j = tid; j < p.N; j += WG) { acc += x[base + j]; }
    sv[tid] = acc;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
      if (tid < s) { sv[tid] += sv[tid + s]; }
      workgroupBarrier();
    }
    if (tid == 0u) { out[row] = p.scale * sv[0]; }
  }
}

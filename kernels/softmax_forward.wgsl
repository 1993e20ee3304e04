// Masked (log-)softmax over the last dim of [R, L]:
//   y[r, j] = exp(x[r, j] - m) / s          (LOG: x[r, j] - m - log s)
// with m = max and s = sum of exp(x - m) over the row's UNMASKED entries.
// R = rows (leading dims flattened), L = row length.
// Masked entries (mask == 0) give 0 (LOG: MASKED_LOG = -1e30, a finite stand-in for -inf so
// 0 * y and differences stay finite downstream); a fully masked row is all 0 (LOG: all -1e30).
// The mask is [..., L] broadcast over x's leading dims: its row for x's row r is found from
// the leading shape `lead` (rank <= 8) and the mask's row strides `mstride` (0 on broadcast dims).
// One workgroup per row; strided loops for rows longer than 256; 2D grid when R > 65535. Or, with
// ROW_PER_THREAD, one thread per row and no barriers (many rows on a software adapter).

override LOG: bool = false;
override HAS_MASK: bool = false;
override ROW_PER_THREAD: bool = false;

struct Params {
  R: u32, L: u32, rank: u32, _pad: u32,
  lead: array<vec4<u32>, 2>,
  mstride: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> mask: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

const WG: u32 = 256u;
const NEG_INF: f32 = -3.4028234663852886e38;
const MASKED_LOG: f32 = -1e30;

var<workgroup> red: array<f32, 256>;

fn at(v: array<vec4<u32>, 2>, d: u32) -> u32 { return v[d / 4u][d % 4u]; }

fn maskRowBase(row: u32) -> u32 {
  var mrow = 0u;
  var rem = row;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let dim = at(p.lead, u32(d));
    mrow += (rem % dim) * at(p.mstride, u32(d));
    rem = rem / dim;
  }
  return mrow * p.L;
}

fn kept(mbase: u32, j: u32) -> bool {
  return !HAS_MASK || mask[mbase + j] != 0.0;
}

fn softmaxRow(row: u32) {
  let base = row * p.L;
  var mbase = 0u;
  if (HAS_MASK) { mbase = maskRowBase(row); }
  var m = NEG_INF;
  for (var j = 0u; j < p.L; j++) {
    if (kept(mbase, j)) { m = max(m, x[base + j]); }
  }
  var total = 0.0;
  for (var j = 0u; j < p.L; j++) {
    if (kept(mbase, j)) { total += exp(x[base + j] - m); }
  }
  let logTotal = log(total);
  for (var j = 0u; j < p.L; j++) {
    var v: f32;
    if (LOG) {
      v = select(MASKED_LOG, x[base + j] - m - logTotal, kept(mbase, j));
    } else {
      v = select(0.0, exp(x[base + j] - m) / total, kept(mbase, j));
    }
    y[base + j] = v;
  }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) tid: u32) {
  if (ROW_PER_THREAD) {
    let r = (wg.x + wg.y * nw.x) * WG + tid;
    if (r < p.R) { softmaxRow(r); }
    return;
  }
  let row = wg.x + wg.y * nw.x;
  if (row >= p.R) { return; }  // uniform per workgroup
  let base = row * p.L;
  var mbase = 0u;
  if (HAS_MASK) { mbase = maskRowBase(row); }

  // Row max over unmasked entries (NEG_INF when none).
  var m = NEG_INF;
  for (var j = tid; j < p.L; j += WG) {
    if (!HAS_MASK || mask[mbase + j] != 0.0) { m = max(m, x[base + j]); }
  }
  red[tid] = m;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (tid < s) { red[tid] = max(red[tid], red[tid + s]); }
    workgroupBarrier();
  }
  m = red[0];
  workgroupBarrier();

  var acc = 0.0;
  for (var j = tid; j < p.L; j += WG) {
    if (!HAS_MASK || mask[mbase + j] != 0.0) { acc += exp(x[base + j] - m); }
  }
  red[tid] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (tid < s) { red[tid] += red[tid + s]; }
    workgroupBarrier();
  }
  let total = red[0];  // >= 1 when any entry is unmasked, 0 when the row is fully masked
  let logTotal = log(total);

  for (var j = tid; j < p.L; j += WG) {
    let keep = !HAS_MASK || mask[mbase + j] != 0.0;
    var v: f32;
    if (LOG) {
      v = select(MASKED_LOG, x[base + j] - m - logTotal, keep);
    } else {
      v = select(0.0, exp(x[base + j] - m) / total, keep);
    }
    y[base + j] = v;
  }
}

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

// Max, then sum of exp(x - m), over the row's kept entries first, first + stride, ...
fn partialMax(base: u32, mbase: u32, first: u32, stride: u32) -> f32 {
  var m = NEG_INF;
  for (var j = first; j < p.L; j += stride) {
    if (kept(mbase, j)) { m = max(m, x[base + j]); }
  }
  return m;
}

fn partialSum(base: u32, mbase: u32, m: f32, first: u32, stride: u32) -> f32 {
  var acc = 0.0;
  for (var j = first; j < p.L; j += stride) {
    if (kept(mbase, j)) { acc += exp(x[base + j] - m); }
  }
  return acc;
}

// y over entries first, first + stride, ... given the row's max and total (0 when fully masked).
fn writeRow(base: u32, mbase: u32, m: f32, total: f32, first: u32, stride: u32) {
  let logTotal = log(total);
  for (var j = first; j < p.L; j += stride) {
    var v: f32;
    if (LOG) {
      v = select(MASKED_LOG, x[base + j] - m - logTotal, kept(mbase, j));
    } else {
      v = select(0.0, exp(x[base + j] - m) / total, kept(mbase, j));
    }
    y[base + j] = v;
  }
}

// A thread's whole row (ROW_PER_THREAD).
fn rowAlone(r: u32) {
  var mb = 0u;
  if (HAS_MASK) { mb = maskRowBase(r); }
  let m = partialMax(r * p.L, mb, 0u, 1u);
  writeRow(r * p.L, mb, m, partialSum(r * p.L, mb, m, 0u, 1u), 0u, 1u);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) tid: u32) {
  if (ROW_PER_THREAD) {
    let r = (wg.x + wg.y * nw.x) * WG + tid;
    if (r < p.R) { rowAlone(r); }
    return;
  }
  let row = wg.x + wg.y * nw.x;
  if (row >= p.R) { return; }  // uniform per workgroup
  let base = row * p.L;
  var mbase = 0u;
  if (HAS_MASK) { mbase = maskRowBase(row); }

  // Row max over unmasked entries (NEG_INF when none).
  red[tid] = partialMax(base, mbase, tid, WG);
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (tid < s) { red[tid] = max(red[tid], red[tid + s]); }
    workgroupBarrier();
  }
  let m = red[0];
  workgroupBarrier();

  red[tid] = partialSum(base, mbase, m, tid, WG);
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (tid < s) { red[tid] += red[tid + s]; }
    workgroupBarrier();
  }
  // total >= 1 when any entry is unmasked, 0 when the row is fully masked.
  writeRow(base, mbase, m, red[0], tid, WG);
}

// Backward of the masked (log-)softmax over the last dim of [R, L], from its output y:
//   softmax: dx = y * (g - sum_j g_j y_j)                      (masked y are 0, so dx is 0 there)
//   LOG:     dx = g - exp(y) * sum_{unmasked j} g_j, and 0 on masked entries
// R = rows, L = row length. The mask (LOG only; broadcast over leading dims as in the forward)
// is needed because masked log-probs are a constant -1e30 that takes no gradient.
// One workgroup per row; strided loops; 2D grid when R > 65535. Or, with ROW_PER_THREAD, one
// thread per row and no barriers. ACCUMULATE adds into dx.

override LOG: bool = false;
override HAS_MASK: bool = false;
override ACCUMULATE: bool = false;
override ROW_PER_THREAD: bool = false;

struct Params {
  R: u32, L: u32, rank: u32, _pad: u32,
  lead: array<vec4<u32>, 2>,
  mstride: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

const WG: u32 = 256u;

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
  return !(LOG && HAS_MASK) || mask[mbase + j] != 0.0;
}

// The row's sum (g . y, or the kept g for LOG) over entries first, first + stride, ...
fn partialSum(base: u32, mbase: u32, first: u32, stride: u32) -> f32 {
  var acc = 0.0;
  for (var j = first; j < p.L; j += stride) {
    if (LOG) {
      if (kept(mbase, j)) { acc += g[base + j]; }
    } else {
      acc += g[base + j] * y[base + j];
    }
  }
  return acc;
}

// dx over entries first, first + stride, ... given the row's whole sum.
fn writeGrad(base: u32, mbase: u32, total: f32, first: u32, stride: u32) {
  for (var j = first; j < p.L; j += stride) {
    let i = base + j;
    var v: f32;
    if (LOG) {
      v = select(0.0, g[i] - exp(y[i]) * total, kept(mbase, j));
    } else {
      v = y[i] * (g[i] - total);
    }
    if (ACCUMULATE) { v += dx[i]; }
    dx[i] = v;
  }
}

// A thread's whole row (ROW_PER_THREAD).
fn rowAlone(r: u32) {
  var mb = 0u;
  if (LOG && HAS_MASK) { mb = maskRowBase(r); }
  writeGrad(r * p.L, mb, partialSum(r * p.L, mb, 0u, 1u), 0u, 1u);
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
  if (LOG && HAS_MASK) { mbase = maskRowBase(row); }

  red[tid] = partialSum(base, mbase, tid, WG);
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (tid < s) { red[tid] += red[tid + s]; }
    workgroupBarrier();
  }
  writeGrad(base, mbase, red[0], tid, WG);
}

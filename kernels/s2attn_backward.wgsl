// S2-Attn (LongLoRA shifted sparse attention), flash-style backward. Probabilities are
// recomputed from q, k and the forward's logsumexp: P_ij = exp(scale q_i . k_j - lse_i),
// dP_ij = dout_i . v_j, dS_ij = P_ij (dP_ij - delta_i), delta_i = dout_i . out_i, and
//   dq_i = scale sum_j dS_ij k_j,   dk_j = scale sum_i dS_ij q_i,   dv_j = sum_i P_ij dout_i,
// the sums running over the (query, key) pairs the forward attended, under each head's shift.
// B = batch, H = query heads, Hkv = kv heads (head h reads kv head h / (H / Hkv)), T = tokens,
// Dh = head dim (DV = Dh / 4 vec4 per row), G = group size, s = G / 2. Rows = B * H * T.
// Shift modes, c coordinates, masks and the roll variant's known leak: see s2attn_forward.wgsl.
//
// MODE 0 (delta): stats[Rows + row] = dout . out per row (out is bound at gb). One thread a row.
// MODE 1 (dq):    one workgroup per (BQ queries, head, batch), tiled as the forward; writes ga = dq.
// MODE 2 (dkdv):  one workgroup per (BK keys in original order, kv head, batch); loops over every
//                 q head that reads this kv head, cuts the key tile into segments of consecutive c
//                 inside one group, and for each runs over the query tiles that can see those keys.
//                 Writes ga = dk and gb = dv. Every sum is a loop inside one invocation: no atomics,
//                 deterministic.
// ACCUMULATE adds into ga (dq or dk), ACCUMULATE_DV into gb (dv); otherwise they overwrite.
// stats is [2, Rows]: the forward's lse, then delta. The three modes share one binding layout
// of 8 storage buffers (the WebGPU default per-stage limit), hence out and dv sharing gb.
// Workgroup memory: 16 * DV * (2 BQ + 2 BK) + 4 * (2 BQ BK + 2 BQ) bytes for every mode;
// 256 invocations (the WebGPU default maximum).

override MODE: u32 = 1u;
override BQ: u32 = 16u;
override BK: u32 = 16u;
override DV: u32 = 16u;
override CAUSAL: bool = true;
override HAS_MASK: bool = false;
override ACCUMULATE: bool = false;
override ACCUMULATE_DV: bool = false;

struct Params {
  B: u32, H: u32, Hkv: u32, T: u32,
  G: u32, half: u32, shift: u32, firstShifted: u32,
  scale: f32, rows: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> keyMask: array<f32>;
@group(0) @binding(4) var<storage, read> dout: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;
@group(0) @binding(6) var<storage, read_write> ga: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> gb: array<vec4<f32>>;
@group(0) @binding(8) var<uniform> p: Params;

const WG: u32 = 256u;

var<workgroup> Qs: array<vec4<f32>, BQ * DV>;   // q rows, pre-scaled
var<workgroup> dOs: array<vec4<f32>, BQ * DV>;  // dout rows
var<workgroup> Ks: array<vec4<f32>, BK * DV>;
var<workgroup> Vs: array<vec4<f32>, BK * DV>;
var<workgroup> Ps: array<f32, BQ * BK>;
var<workgroup> dSs: array<f32, BQ * BK>;
var<workgroup> rowL: array<f32, BQ>;  // lse of the tile's rows
var<workgroup> rowD: array<f32, BQ>;  // delta of the tile's rows

//!include lib/s2attn_shift

fn keyKept(b: u32, j: u32) -> bool {
  if (HAS_MASK) { return keyMask[b * p.T + j] != 0.0; }
  return true;
}

// Row r of Qs / dOs / rowL / rowD from global row `row` (zeros when !ok); e indexes the vec4.
fn loadQueryRow(e: u32, r: u32, row: u32, ok: bool) {
  var x = vec4<f32>(0.0);
  var d = vec4<f32>(0.0);
  if (ok) {
    x = q[row * DV + e % DV] * p.scale;
    d = dout[row * DV + e % DV];
  }
  Qs[e] = x;
  dOs[e] = d;
  if (e % DV == 0u) {
    var lr = 0.0;
    var dr = 0.0;
    if (ok) {
      lr = stats[row];
      dr = stats[p.rows + row];
    }
    rowL[r] = lr;
    rowD[r] = dr;
  }
}

// P and dS for the pair (Qs row r, Ks row kj), already known to be attended.
fn pairGrads(r: u32, kj: u32) -> vec2<f32> {
  var s = 0.0;
  var dp = 0.0;
  for (var c = 0u; c < DV; c++) {
    s += dot(Qs[r * DV + c], Ks[kj * DV + c]);
    dp += dot(dOs[r * DV + c], Vs[kj * DV + c]);
  }
  let pr = exp(s - rowL[r]);
  return vec2<f32>(pr, pr * (dp - rowD[r]));
}

fn store(buf: u32, idx: u32, x: vec4<f32>) {
  if (buf == 0u) {
    var y = x;
    if (ACCUMULATE) { y += ga[idx]; }
    ga[idx] = y;
  } else {
    var y = x;
    if (ACCUMULATE_DV) { y += gb[idx]; }
    gb[idx] = y;
  }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) tid: u32) {
  if (MODE == 0u) {
    let row = (wg.x + wg.y * nw.x) * WG + tid;
    if (row < p.rows) {
      var d = 0.0;
      for (var c = 0u; c < DV; c++) { d += dot(dout[row * DV + c], gb[row * DV + c]); }
      stats[p.rows + row] = d;
    }
    return;
  }

  let b = wg.z;
  if (MODE == 1u) {
    // ---- dq: query tile [i0, i0 + BQ) of head h ----
    let h = wg.y;
    let i0 = wg.x * BQ;
    let mode = headShift(h);
    let qRow0 = (b * p.H + h) * p.T;
    let kRow0 = (b * p.Hkv + h / (p.H / p.Hkv)) * p.T;
    let iEnd = min(i0 + BQ, p.T);
    for (var e = tid; e < BQ * DV; e += WG) {
      let r = e / DV;
      loadQueryRow(e, r, qRow0 + i0 + r, i0 + r < p.T);
    }
    let NL = WG / BQ;
    let qi = tid / NL;
    let lane = tid % NL;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var s0 = i0;
    loop {
      if (s0 >= iEnd) { break; }
      let c0 = toC(s0, mode);
      let lo = groupLo(c0, mode);
      let hi = groupHi(c0, mode);
      let run = min(iEnd - s0, hi - c0);
      let kEnd = select(hi, c0 + run, CAUSAL);
      for (var kc0 = lo; kc0 < kEnd; kc0 += BK) {
        for (var e = tid; e < BK * DV; e += WG) {
          let c = kc0 + e / DV;
          var x = vec4<f32>(0.0);
          var y = vec4<f32>(0.0);
          if (c < kEnd) {
            let row = kRow0 + fromC(c, mode);
            x = k[row * DV + e % DV];
            y = v[row * DV + e % DV];
          }
          Ks[e] = x;
          Vs[e] = y;
        }
        workgroupBarrier();
        if (tid < BQ * BK) {
          let r = tid / BK;
          let kj = tid % BK;
          let ck = kc0 + kj;
          let i = i0 + r;
          var valid = i >= s0 && i < s0 + run && ck < kEnd;
          if (CAUSAL && valid) { valid = ck <= c0 + (i - s0); }
          if (valid) { valid = keyKept(b, fromC(ck, mode)); }
          var ds = 0.0;
          if (valid) { ds = pairGrads(r, kj).y; }
          dSs[tid] = ds;
        }
        workgroupBarrier();
        for (var j = 0u; j < BK; j++) {
          let ds = dSs[qi * BK + j];
          if (lane < DV) { acc0 += ds * Ks[j * DV + lane]; }
          if (lane + NL < DV) { acc1 += ds * Ks[j * DV + lane + NL]; }
        }
        workgroupBarrier();
      }
      s0 += run;
    }
    let i = i0 + qi;
    if (i < p.T) {
      if (lane < DV) { store(0u, (qRow0 + i) * DV + lane, acc0 * p.scale); }
      if (lane + NL < DV) { store(0u, (qRow0 + i) * DV + lane + NL, acc1 * p.scale); }
    }
    return;
  }

  // ---- MODE 2, dk and dv: key tile [j0, j0 + BK) of kv head hk, summed over its q heads ----
  let hk = wg.y;
  let j0 = wg.x * BK;
  let jEnd = min(j0 + BK, p.T);
  let kRow0 = (b * p.Hkv + hk) * p.T;
  for (var e = tid; e < BK * DV; e += WG) {
    let j = j0 + e / DV;
    var x = vec4<f32>(0.0);
    var y = vec4<f32>(0.0);
    if (j < p.T) {
      x = k[(kRow0 + j) * DV + e % DV];
      y = v[(kRow0 + j) * DV + e % DV];
    }
    Ks[e] = x;
    Vs[e] = y;
  }
  let NL = WG / BK;
  let kt = tid / NL;
  let lane = tid % NL;
  var dk0 = vec4<f32>(0.0);
  var dk1 = vec4<f32>(0.0);
  var dv0 = vec4<f32>(0.0);
  var dv1 = vec4<f32>(0.0);
  let rep = p.H / p.Hkv;
  for (var h = hk * rep; h < hk * rep + rep; h++) {
    let mode = headShift(h);
    let qRow0 = (b * p.H + h) * p.T;
    var s0 = j0;  // first key of the current segment
    loop {
      if (s0 >= jEnd) { break; }
      let c0 = toC(s0, mode);
      let lo = groupLo(c0, mode);
      let hi = groupHi(c0, mode);
      let run = min(jEnd - s0, hi - c0);  // keys s0 .. s0 + run - 1 sit at c0 .. c0 + run - 1
      // Queries that can see these keys: the rest of the group (causal) or all of it.
      for (var qc0 = select(lo, c0, CAUSAL); qc0 < hi; qc0 += BQ) {
        // The previous pass's reads of Qs / dOs / rowL / rowD end at its last barrier.
        for (var e = tid; e < BQ * DV; e += WG) {
          let r = e / DV;
          let c = qc0 + r;
          loadQueryRow(e, r, qRow0 + fromC(c, mode), c < hi);
        }
        workgroupBarrier();
        if (tid < BQ * BK) {
          let r = tid / BK;
          let kj = tid % BK;
          let cq = qc0 + r;
          let j = j0 + kj;
          var valid = cq < hi && j >= s0 && j < s0 + run;
          if (CAUSAL && valid) { valid = c0 + (j - s0) <= cq; }
          if (valid) { valid = keyKept(b, j); }
          var g = vec2<f32>(0.0);
          if (valid) { g = pairGrads(r, kj); }
          Ps[tid] = g.x;
          dSs[tid] = g.y;
        }
        workgroupBarrier();
        for (var r = 0u; r < BQ; r++) {
          let pr = Ps[r * BK + kt];
          let ds = dSs[r * BK + kt];
          if (lane < DV) {
            dv0 += pr * dOs[r * DV + lane];
            dk0 += ds * Qs[r * DV + lane];
          }
          if (lane + NL < DV) {
            dv1 += pr * dOs[r * DV + lane + NL];
            dk1 += ds * Qs[r * DV + lane + NL];
          }
        }
        workgroupBarrier();
      }
      s0 += run;
    }
  }
  let j = j0 + kt;
  if (j < p.T) {
    // Qs is pre-scaled, so dk already carries the scale.
    if (lane < DV) {
      store(0u, (kRow0 + j) * DV + lane, dk0);
      store(1u, (kRow0 + j) * DV + lane, dv0);
    }
    if (lane + NL < DV) {
      store(0u, (kRow0 + j) * DV + lane + NL, dk1);
      store(1u, (kRow0 + j) * DV + lane + NL, dv1);
    }
  }
}

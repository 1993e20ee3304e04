// S2-Attn (LongLoRA shifted sparse attention), flash-style forward:
//   out[b, h, i] = sum_j softmax_j(scale * q[b, h, i] . k[b, hk, j]) v[b, hk, j]
// over the keys j in query i's group (causal: up to i's place in that group), and
// lse[b, h, i] = logsumexp of those scores, saved for the backward.
// B = batch, H = query heads, Hkv = kv heads (GQA: head h reads kv head hk = h / (H / Hkv)),
// T = tokens, Dh = head dim (DV = Dh / 4 vec4 per row), G = group size, s = G / 2.
//
// Each head sees the sequence in "c coordinates", where its groups are [gG, (g+1)G):
//   shift 0 (none, and heads h < firstShifted):  c = i
//   shift 1 (roll, LongLoRA's code):  c = (i - s) mod T, i.e. Q, K, V rolled by -s, the output
//     rolled back by +s. The roll is index arithmetic here, nothing is copied. KNOWN LEAK (as in
//     LongLoRA): the last rolled group is original tokens [T-s, T) followed by [0, s), so with the
//     causal mask the first s tokens of the sequence attend to its last s tokens (the future).
//   shift 2 (split, no leak):  c = i + s over [s, T + s): groups [0, s), [s, 3s), ..., [T-s, T)
//     in original positions, no wrap.
// Full attention is G = T with shift 0 (ops/s2attn.ts ignores the shift then). CAUSAL masks by
// c inside a group; otherwise a 0/1 key mask [B, T] (HAS_MASK) may drop keys. A query with no
// key left outputs 0 and lse = NEG (-1e30, a finite stand-in for -inf), never NaN.
//
// Tiling: one workgroup per (BQ queries in original order, head, batch). The tile's rows are
// cut into segments of consecutive c inside one group; for each segment the key tiles of BK
// run from the group start to the segment's last query (causal) or the group end. Online
// softmax keeps a running max m and sum l per row; no score matrix leaves workgroup memory.
// Workgroup memory: 16 * DV * (BQ + BK) + 4 * (BQ * BK + BQ) bytes (ops/s2attn.ts checks it
// against the device limit and picks BQ, BK); 256 invocations (the WebGPU default maximum).

override BQ: u32 = 16u;
override BK: u32 = 16u;
override DV: u32 = 16u;
override CAUSAL: bool = true;
override HAS_MASK: bool = false;
override SAVE_LSE: bool = true;

struct Params {
  B: u32, H: u32, Hkv: u32, T: u32,
  G: u32, half: u32, shift: u32, firstShifted: u32,
  scale: f32, _p0: u32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> keyMask: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;

const WG: u32 = 256u;
const NEG: f32 = -1e30;

var<workgroup> Qs: array<vec4<f32>, BQ * DV>;   // q rows of the tile, pre-scaled
var<workgroup> KVs: array<vec4<f32>, BK * DV>;  // K tile, then V tile
var<workgroup> Ss: array<f32, BQ * BK>;         // scores, then probabilities
var<workgroup> rowA: array<f32, BQ>;            // per-row rescale factor, then 1 / l

//!include lib/s2attn_shift

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let b = wg.z;
  let h = wg.y;
  let i0 = wg.x * BQ;
  let mode = headShift(h);
  let hk = h / (p.H / p.Hkv);
  let qRow0 = (b * p.H + h) * p.T;
  let kRow0 = (b * p.Hkv + hk) * p.T;
  let iEnd = min(i0 + BQ, p.T);

  for (var e = tid; e < BQ * DV; e += WG) {
    let i = i0 + e / DV;
    var x = vec4<f32>(0.0);
    if (i < p.T) { x = q[(qRow0 + i) * DV + e % DV] * p.scale; }
    Qs[e] = x;
  }

  // Output layout: row qi, vec4 columns lane and lane + NL (DV <= 2 * NL since Dh <= 128).
  let NL = WG / BQ;
  let qi = tid / NL;
  let lane = tid % NL;
  var m = NEG;
  var l = 0.0;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);

  var s0 = i0;  // first row of the current segment
  loop {
    if (s0 >= iEnd) { break; }
    let c0 = toC(s0, mode);
    let lo = groupLo(c0, mode);
    let hi = groupHi(c0, mode);
    let run = min(iEnd - s0, hi - c0);  // rows s0 .. s0 + run - 1 sit at c0 .. c0 + run - 1
    let kEnd = select(hi, c0 + run, CAUSAL);
    for (var kc0 = lo; kc0 < kEnd; kc0 += BK) {
      for (var e = tid; e < BK * DV; e += WG) {
        let c = kc0 + e / DV;
        var x = vec4<f32>(0.0);
        if (c < kEnd) { x = k[(kRow0 + fromC(c, mode)) * DV + e % DV]; }
        KVs[e] = x;
      }
      workgroupBarrier();
      if (tid < BQ * BK) {
        let r = tid / BK;
        let ck = kc0 + tid % BK;
        let i = i0 + r;
        // Only this segment's rows: a tile that wraps around T can meet the same group twice.
        var valid = i >= s0 && i < s0 + run && ck < kEnd;
        if (CAUSAL && valid) { valid = ck <= c0 + (i - s0); }
        if (HAS_MASK && valid) { valid = keyMask[b * p.T + fromC(ck, mode)] != 0.0; }
        var s = NEG;
        if (valid) {
          s = 0.0;
          for (var c = 0u; c < DV; c++) { s += dot(Qs[r * DV + c], KVs[(tid % BK) * DV + c]); }
        }
        Ss[tid] = s;
      }
      workgroupBarrier();
      for (var e = tid; e < BK * DV; e += WG) {
        let c = kc0 + e / DV;
        var x = vec4<f32>(0.0);
        if (c < kEnd) { x = v[(kRow0 + fromC(c, mode)) * DV + e % DV]; }
        KVs[e] = x;
      }
      if (lane == 0u) {
        var mt = m;
        for (var j = 0u; j < BK; j++) { mt = max(mt, Ss[qi * BK + j]); }
        let live = mt > NEG;  // the row has met a valid key; NEG - NEG would give exp(0) = 1
        let alpha = exp(m - mt);
        var sum = 0.0;
        for (var j = 0u; j < BK; j++) {
          let pj = select(0.0, exp(Ss[qi * BK + j] - mt), live);
          Ss[qi * BK + j] = pj;
          sum += pj;
        }
        l = l * alpha + sum;
        m = mt;
        rowA[qi] = alpha;
      }
      workgroupBarrier();
      let a = rowA[qi];
      acc0 *= a;
      acc1 *= a;
      for (var j = 0u; j < BK; j++) {
        let pj = Ss[qi * BK + j];
        if (lane < DV) { acc0 += pj * KVs[j * DV + lane]; }
        if (lane + NL < DV) { acc1 += pj * KVs[j * DV + lane + NL]; }
      }
      workgroupBarrier();
    }
    s0 += run;
  }

  let i = i0 + qi;
  if (lane == 0u) {
    rowA[qi] = select(0.0, 1.0 / l, l > 0.0);
    if (SAVE_LSE && i < p.T) { lse[qRow0 + i] = select(NEG, m + log(l), l > 0.0); }
  }
  workgroupBarrier();
  if (i < p.T) {
    let inv = rowA[qi];
    if (lane < DV) { out[(qRow0 + i) * DV + lane] = acc0 * inv; }
    if (lane + NL < DV) { out[(qRow0 + i) * DV + lane + NL] = acc1 * inv; }
  }
}

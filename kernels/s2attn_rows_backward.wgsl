// S2-Attn backward with one thread per row: the same op, bindings, Params and modes as
// s2attn_backward.wgsl (see it for the formulas; the forward for the shift's c coordinates):
//   dq_i = scale sum_j dS_ij k_j,   dk_j = scale sum_i dS_ij q_i,   dv_j = sum_i P_ij dout_i,
//   P_ij = exp(scale q_i . k_j - lse_i), dS_ij = P_ij (dout_i . v_j - delta_i).
// B = batch, H = query heads, Hkv = kv heads (head h reads kv head h / (H / Hkv)), T = tokens,
// Dh = head dim (DV = Dh / 4 vec4 per row, at most 32), G = group size. Rows = B * H * T.
// MODE 1 (dq):   a thread per (query row i, head h, batch b) walks i's keys; writes ga = dq.
// MODE 2 (dkdv): a thread per (key row j, kv head hk, batch b) walks, for every q head h reading
//                hk, the queries of h that attend j; writes ga = dk and gb = dv.
// delta (MODE 0) stays in s2attn_backward. No workgroup memory, barriers or atomics; each sum is
// one thread's loop in a fixed order, so results are deterministic. ACCUMULATE adds into ga,
// ACCUMULATE_DV into gb. ops/s2attn.ts picks this kernel on a software adapter (SwiftShader),
// where barriers are fiber switches.

override MODE: u32 = 1u;
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

const MAX_DV: u32 = 64u;  // Dh <= 256 (ops/s2attn.ts checks it)

//!include lib/s2attn_shift

fn keyKept(b: u32, j: u32) -> bool {
  if (HAS_MASK) { return keyMask[b * p.T + j] != 0.0; }
  return true;
}

// P and dS for query row qr (global row index) and key row kr, already known to be attended.
fn pairGrads(qr: u32, kr: u32) -> vec2<f32> {
  var s = 0.0;
  var dp = 0.0;
  for (var d = 0u; d < DV; d++) {
    s += dot(q[qr * DV + d], k[kr * DV + d]);
    dp += dot(dout[qr * DV + d], v[kr * DV + d]);
  }
  let pr = exp(s * p.scale - stats[qr]);
  return vec2<f32>(pr, pr * (dp - stats[p.rows + qr]));
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wg.z;
  let r = wg.x * 64u + lid;  // query row i (MODE 1) or key row j (MODE 2)
  if (r >= p.T) { return; }

  if (MODE == 1u) {
    let h = wg.y;
    let mode = headShift(h);
    let qr = (b * p.H + h) * p.T + r;
    let kRow0 = (b * p.Hkv + h / (p.H / p.Hkv)) * p.T;
    let c = toC(r, mode);
    let kEnd = select(groupHi(c, mode), c + 1u, CAUSAL);
    var acc: array<vec4<f32>, MAX_DV>;
    for (var d = 0u; d < DV; d++) { acc[d] = vec4<f32>(0.0); }
    for (var ck = groupLo(c, mode); ck < kEnd; ck++) {
      let j = fromC(ck, mode);
      if (!keyKept(b, j)) { continue; }
      let kr = kRow0 + j;
      let ds = pairGrads(qr, kr).y;
      for (var d = 0u; d < DV; d++) { acc[d] += ds * k[kr * DV + d]; }
    }
    for (var d = 0u; d < DV; d++) {
      var y = acc[d] * p.scale;
      if (ACCUMULATE) { y += ga[qr * DV + d]; }
      ga[qr * DV + d] = y;
    }
    return;
  }

  // MODE 2: key row j = r of kv head hk, summed over the q heads that read it.
  let hk = wg.y;
  let kr = (b * p.Hkv + hk) * p.T + r;
  var dk: array<vec4<f32>, MAX_DV>;
  var dv: array<vec4<f32>, MAX_DV>;
  for (var d = 0u; d < DV; d++) {
    dk[d] = vec4<f32>(0.0);
    dv[d] = vec4<f32>(0.0);
  }
  if (keyKept(b, r)) {
    let rep = p.H / p.Hkv;
    for (var h = hk * rep; h < hk * rep + rep; h++) {
      let mode = headShift(h);
      let qRow0 = (b * p.H + h) * p.T;
      let c = toC(r, mode);
      // The queries that see key c: the rest of its group (causal) or all of it.
      let hi = groupHi(c, mode);
      for (var cq = select(groupLo(c, mode), c, CAUSAL); cq < hi; cq++) {
        let qr = qRow0 + fromC(cq, mode);
        let g = pairGrads(qr, kr);
        for (var d = 0u; d < DV; d++) {
          dv[d] += g.x * dout[qr * DV + d];
          dk[d] += g.y * q[qr * DV + d];
        }
      }
    }
  }
  for (var d = 0u; d < DV; d++) {
    var x = dk[d] * p.scale;
    if (ACCUMULATE) { x += ga[kr * DV + d]; }
    ga[kr * DV + d] = x;
    var y = dv[d];
    if (ACCUMULATE_DV) { y += gb[kr * DV + d]; }
    gb[kr * DV + d] = y;
  }
}

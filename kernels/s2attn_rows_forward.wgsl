// S2-Attn forward with one thread per query row: the same op, bindings and Params as
// s2attn_forward.wgsl (see it for the c coordinates, the shift modes and the outputs):
//   out[b, h, i] = sum_j softmax_j(scale * q[b, h, i] . k[b, hk, j]) v[b, hk, j]
// over the keys j in query i's group (causal: up to i's place in it), and lse[b, h, i].
// B = batch, H = query heads, Hkv = kv heads (head h reads kv head hk = h / (H / Hkv)),
// T = tokens, Dh = head dim (DV = Dh / 4 vec4 per row, at most 32), G = group size.
//
// No workgroup memory and no barriers: each thread walks its row's keys in order with an online
// softmax (running max m and sum l), its output row in registers. Software rasterisers
// (SwiftShader) run every barrier as a fiber switch, which made the tiled kernel's short demo
// rows (T 58, G 14) cost ~1.7 ms per workgroup; ops/s2attn.ts picks this kernel there.

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

const NEG: f32 = -1e30;
const MAX_DV: u32 = 64u;  // Dh <= 256 (ops/s2attn.ts checks it)

//!include lib/s2attn_shift

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wg.x * 64u + lid;
  if (i >= p.T) { return; }
  let b = wg.z;
  let h = wg.y;
  let mode = headShift(h);
  let hk = h / (p.H / p.Hkv);
  let qRow = ((b * p.H + h) * p.T + i) * DV;
  let kRow0 = (b * p.Hkv + hk) * p.T;
  let c = toC(i, mode);
  let lo = groupLo(c, mode);
  let kEnd = select(groupHi(c, mode), c + 1u, CAUSAL);

  var acc: array<vec4<f32>, MAX_DV>;
  for (var d = 0u; d < DV; d++) { acc[d] = vec4<f32>(0.0); }
  var m = NEG;
  var l = 0.0;
  for (var ck = lo; ck < kEnd; ck++) {
    let j = fromC(ck, mode);
    if (HAS_MASK && keyMask[b * p.T + j] == 0.0) { continue; }
    let kRow = (kRow0 + j) * DV;
    var s = 0.0;
    for (var d = 0u; d < DV; d++) { s += dot(q[qRow + d], k[kRow + d]); }
    s *= p.scale;
    let mt = max(m, s);
    let alpha = exp(m - mt);
    let pj = exp(s - mt);
    l = l * alpha + pj;
    m = mt;
    for (var d = 0u; d < DV; d++) { acc[d] = acc[d] * alpha + pj * v[kRow + d]; }
  }

  // A row with no key left outputs 0 and lse = NEG, never NaN.
  let inv = select(0.0, 1.0 / l, l > 0.0);
  for (var d = 0u; d < DV; d++) { out[qRow + d] = acc[d] * inv; }
  if (SAVE_LSE) { lse[(b * p.H + h) * p.T + i] = select(NEG, m + log(l), l > 0.0); }
}

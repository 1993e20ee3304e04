// Rotary position embedding, HF rotate_half convention over the first R = 2 * half dims of each
// head (R = Dh for Llama; GPT-NeoX's partial rotary rotates R < Dh and passes the rest through).
// B = batch, T = tokens, H = heads, Dh = head dim, P = table rows (max position).
// x, out: [B, T, H, Dh]; cos, sin: [P, R/2] with angle pos * theta^(-2i/R); positions: i32,
// [T] (posStride 0) or [B, T] (posStride T). For each pair (a, b) = (x[i], x[i + R/2]), i < R/2:
//   out[i]       = a cos - b sin
//   out[i + R/2] = b cos + a sin
// and out[j] = x[j] for R <= j < Dh.
// INVERSE rotates by -angle (sin negated): the backward, since a rotation's transpose is its
// inverse (the passed-through dims are the identity both ways). ACCUMULATE adds into out (the
// backward writing into an existing gradient).
// One thread per pair or passed-through value: (R/2 + Dh - R) per head. Positions outside
// [0, P) are clamped (the host cannot check them without a readback).

override INVERSE: bool = false;
override ACCUMULATE: bool = false;

struct Params { n: u32, T: u32, H: u32, half: u32, P: u32, posStride: u32, dh: u32, _p: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> cosT: array<f32>;
@group(0) @binding(2) var<storage, read> sinT: array<f32>;
@group(0) @binding(3) var<storage, read> positions: array<i32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let k = gid.x + gid.y * nw.x * 256u; // work item over [B, T, H, R/2 + Dh - R]
  if (k >= p.n) { return; }
  let per = p.dh - p.half;          // items per head: R/2 pairs, then Dh - R passed-through values
  let i = k % per;
  let head = k / per;               // flat (b, t, h)
  let i0 = head * p.dh + i;
  if (i >= p.half) {
    let j = head * p.dh + p.half + i; // dims R .. Dh-1 (i - half + R = i + half)
    var o = x[j];
    if (ACCUMULATE) { o += out[j]; }
    out[j] = o;
    return;
  }
  let bt = head / p.H;              // flat (b, t)
  let t = bt % p.T;
  let b = bt / p.T;
  let pos = u32(clamp(positions[b * p.posStride + t], 0, i32(p.P) - 1));
  let c = cosT[pos * p.half + i];
  var s = sinT[pos * p.half + i];
  if (INVERSE) { s = -s; }
  let i1 = i0 + p.half;
  let a = x[i0];
  let bv = x[i1];
  var o0 = a * c - bv * s;
  var o1 = bv * c + a * s;
  if (ACCUMULATE) {
    o0 += out[i0];
    o1 += out[i1];
  }
  out[i0] = o0;
  out[i1] = o1;
}

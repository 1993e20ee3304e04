// Rotary position embedding, HF Llama rotate_half convention: dim i pairs with i + Dh/2.
// B = batch, T = tokens, H = heads, Dh = head dim, P = table rows (max position).
// x, out: [B, T, H, Dh]; cos, sin: [P, Dh/2] with angle pos * theta^(-2i/Dh); positions: i32,
// [T] (posStride 0) or [B, T] (posStride T). For each pair (a, b) = (x[i], x[i + Dh/2]):
//   out[i]        = a cos - b sin
//   out[i + Dh/2] = b cos + a sin
// INVERSE rotates by -angle (sin negated): the backward, since a rotation's transpose is its
// inverse. ACCUMULATE adds into out (the backward writing into an existing gradient).
// One thread per pair. Positions outside [0, P) are clamped (the host cannot check them
// without a readback).

override INVERSE: bool = false;
override ACCUMULATE: bool = false;

struct Params { n: u32, T: u32, H: u32, half: u32, P: u32, posStride: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> cosT: array<f32>;
@group(0) @binding(2) var<storage, read> sinT: array<f32>;
@group(0) @binding(3) var<storage, read> positions: array<i32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let k = gid.x + gid.y * nw.x * 256u; // pair index over [B, T, H, Dh/2]
  if (k >= p.n) { return; }
  let i = k % p.half;
  let head = k / p.half;            // flat (b, t, h)
  let bt = head / p.H;              // flat (b, t)
  let t = bt % p.T;
  let b = bt / p.T;
  let pos = u32(clamp(positions[b * p.posStride + t], 0, i32(p.P) - 1));
  let c = cosT[pos * p.half + i];
  var s = sinT[pos * p.half + i];
  if (INVERSE) { s = -s; }
  let i0 = head * 2u * p.half + i;
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

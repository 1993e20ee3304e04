// 2-D strided block copy, for r < R and c < C:
//   dst[r * dstStride + dstOffset + c] (+)= src[r * srcStride + srcOffset + c]
// R = rows of the block, C = cols (contiguous elements per row); strides are the row pitches of
// src and dst, offsets the position of the block's first element (all counted in elements).
// concat writes each input into its slot of the output with it, and its backward reads each
// slot of the gradient back out (ACCUMULATE adds into an existing gradient). One thread per
// element of the block; 2D grid when large.

override ACCUMULATE: bool = false;

struct Params { R: u32, C: u32, srcStride: u32, srcOffset: u32, dstStride: u32, dstOffset: u32 }

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = gid.x + gid.y * nw.x * 256u;  // index within the block, laid out [R, C]
  if (i >= p.R * p.C) { return; }
  let r = i / p.C;
  let c = i % p.C;
  let o = r * p.dstStride + p.dstOffset + c;
  var v = src[r * p.srcStride + p.srcOffset + c];
  if (ACCUMULATE) { v += dst[o]; }
  dst[o] = v;
}

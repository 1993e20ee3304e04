// Batched transpose of the last two dims: out[b, c, r] = in[b, r, c] (+= when ACCUMULATE).
// B = batch, R = rows of the input, C = cols of the input.
// Its own backward is the same kernel with rows and cols swapped.

override ACCUMULATE: bool = false;

struct Params { R: u32, C: u32, batch: u32, _pad: u32 }

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

var<workgroup> tile: array<f32, 272>;  // 16 x 17: the pad column avoids bank conflicts

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let base = wg.z * p.R * p.C;
  let r = wg.y * 16u + lid.y;
  let c = wg.x * 16u + lid.x;
  if (r < p.R && c < p.C) { tile[lid.y * 17u + lid.x] = src[base + r * p.C + c]; }
  workgroupBarrier();
  // Write coalesced along the output's rows (the input's columns).
  let orow = wg.x * 16u + lid.y;  // output row = input col
  let ocol = wg.y * 16u + lid.x;  // output col = input row
  if (orow < p.C && ocol < p.R) {
    let idx = base + orow * p.R + ocol;
    var v = tile[lid.x * 17u + lid.y];
    if (ACCUMULATE) { v += dst[idx]; }
    dst[idx] = v;
  }
}

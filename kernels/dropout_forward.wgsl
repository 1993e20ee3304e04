// Dropout with a counter-based mask: element i is kept iff hash(seed, i) >= threshold, where
// threshold = floor(p * 2^32), and kept values are scaled by 1 / (1 - p). n = elements.
// The mask is a pure function of (seed, i), so the backward is this same kernel applied to the
// output gradient (with ACCUMULATE), and src/tensor/cpu/dropout.ts reproduces it bit for bit.
// hash = pcg(pcg(i) ^ pcg(seed ^ 0x9e3779b9)), pcg = the PCG-RXS-M-XS 32-bit output permutation
// (Jarzynski & Olano, "Hash Functions for GPU Rendering", 2020).

override ACCUMULATE: bool = false;

struct Params { n: u32, seed: u32, threshold: u32, scale: f32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = gid.x + gid.y * nw.x * 256u;
  if (i >= p.n) { return; }
  let h = pcg(pcg(i) ^ pcg(p.seed ^ 0x9e3779b9u));
  var r = select(0.0, x[i] * p.scale, h >= p.threshold);
  if (ACCUMULATE) { r += out[i]; }
  out[i] = r;
}

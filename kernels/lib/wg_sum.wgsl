// Shared by the row-norm kernels (layernorm, rmsnorm, l2norm; forward and backward), which
// include it by name: a 256-invocation workgroup tree sum. Every invocation gets the total.
// Call from uniform control flow. The trailing barrier lets a kernel call it again (the
// scratch array is reused). A kernel that calls neither function allocates neither array.

var<workgroup> wg_sum_f32: array<f32, 256>;
var<workgroup> wg_sum_vec2: array<vec2<f32>, 256>;

fn wgSum(v: f32, lid: u32) -> f32 {
  wg_sum_f32[lid] = v;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid < s) { wg_sum_f32[lid] += wg_sum_f32[lid + s]; }
    workgroupBarrier();
  }
  let total = wg_sum_f32[0];
  workgroupBarrier();
  return total;
}

fn wgSum2(v: vec2<f32>, lid: u32) -> vec2<f32> {
  wg_sum_vec2[lid] = v;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid < s) { wg_sum_vec2[lid] += wg_sum_vec2[lid + s]; }
    workgroupBarrier();
  }
  let total = wg_sum_vec2[0];
  workgroupBarrier();
  return total;
}

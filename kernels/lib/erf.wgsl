// Shared by unary_forward and unary_backward, which include it by name (resolved by the
// pipeline cache before compiling): erf for exact gelu, and an overflow-safe tanh.

// 1 + erf(z), which is all gelu needs. WGSL has no erf: near 0 the Maclaurin series (first
// dropped term < 4e-9 at |z| = 0.5); elsewhere Abramowitz & Stegun 7.1.26, erfc(a) ~ poly(t)
// exp(-a^2) with t = 1 / (1 + 0.3275911 a), |error| <= 1.5e-7. For z < 0 the result is that
// erfc directly, not 1 minus a number near 1, so gelu's negative tail does not cancel.
fn one_plus_erf(z: f32) -> f32 {
  let a = abs(z);
  if (a < 0.5) {
    let s = a * a;
    let poly = 1.0 + s * (-1.0 / 3.0 + s * (1.0 / 10.0 + s * (-1.0 / 42.0 + s * (1.0 / 216.0 + s * (-1.0 / 1320.0)))));
    return 1.0 + z * 1.1283791670955126 * poly;
  }
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * exp(-a * a);
  return select(2.0 - erfc, erfc, z < 0.0);
}

// tanh written so that a large |u| gives +-1, never inf / inf.
fn tanh_(u: f32) -> f32 {
  let e = exp(-2.0 * abs(u));
  return sign(u) * (1.0 - e) / (1.0 + e);
}

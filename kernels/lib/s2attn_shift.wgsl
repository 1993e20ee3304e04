// S2-Attn's shift mapping, shared by s2attn_forward and s2attn_backward so the two can never
// disagree on which tokens a head groups together (see s2attn_forward.wgsl for the c coordinates).
// Expects a uniform `p` with T, G, half (= G / 2), shift and firstShifted.

fn headShift(h: u32) -> u32 { return select(0u, p.shift, h >= p.firstShifted); }

fn toC(i: u32, mode: u32) -> u32 {
  if (mode == 1u) { return (i + p.T - p.half) % p.T; }
  if (mode == 2u) { return i + p.half; }
  return i;
}

fn fromC(c: u32, mode: u32) -> u32 {
  if (mode == 1u) { return (c + p.half) % p.T; }
  if (mode == 2u) { return c - p.half; }
  return c;
}

// The group of c, clipped to the c range the mode uses ([s, T + s) for split).
fn groupLo(c: u32, mode: u32) -> u32 { return max(c / p.G * p.G, select(0u, p.half, mode == 2u)); }
fn groupHi(c: u32, mode: u32) -> u32 { return min(c / p.G * p.G + p.G, select(p.T, p.T + p.half, mode == 2u)); }

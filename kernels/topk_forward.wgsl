// Top-k of each row of scores: one pass of a chunked selection.
// B = rows (queries), n = candidates per row, k = kept per chunk (k <= 512; the op allows 100).
// Order: value descending, then id ascending (ties go to the lower doc id).
// One workgroup per (chunk c, row b) loads elements c*1024 .. c*1024+1023 of its row into
// workgroup memory (8 KiB), bitonic-sorts them, and writes the first k (value, id) pairs to
// out[b * outStride + outCol0 + c * k ..]. A chunk shorter than 1024 is padded with sentinels
// (-FLT_MAX, id 0x7fffffff) that sort after every entry with a finite score, so a chunk holding
// fewer than k entries writes sentinels in its tail. With several chunks the host runs the kernel
// again over their outputs (IDS_IN) until one chunk remains: each pass shrinks a row 1024 -> k.
// IDS_IN false: ids are idBase + column (a pass over raw scores); true: read from ids_in.

override IDS_IN: bool = false;

struct Params {
  n: u32, k: u32, inStride: u32, outStride: u32,
  outCol0: u32, idBase: i32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<storage, read> vals_in: array<f32>;
@group(0) @binding(1) var<storage, read> ids_in: array<i32>;
@group(0) @binding(2) var<storage, read_write> vals_out: array<f32>;
@group(0) @binding(3) var<storage, read_write> ids_out: array<i32>;
@group(0) @binding(4) var<uniform> p: Params;

const C: u32 = 1024u;
const WG: u32 = 256u;
const NEG: f32 = -3.4028234663852886e38;
const NO_ID: i32 = 2147483647;

var<workgroup> sv: array<f32, 1024>;
var<workgroup> si: array<i32, 1024>;

// Whether (va, ia) ranks ahead of (vb, ib).
fn ahead(va: f32, ia: i32, vb: f32, ib: i32) -> bool {
  return va > vb || (va == vb && ia < ib);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let c = wg.x;
  let b = wg.y;
  let base = b * p.inStride;
  for (var r = 0u; r < C / WG; r++) {
    let e = tid + r * WG;
    let col = c * C + e;
    var v = NEG;
    var id = NO_ID;
    if (col < p.n) {
      v = vals_in[base + col];
      if (IDS_IN) { id = ids_in[base + col]; } else { id = p.idBase + i32(col); }
    }
    sv[e] = v;
    si[e] = id;
  }
  workgroupBarrier();

  // Bitonic sort into ranking order: 55 compare-exchange stages, 512 pairs each, 2 per thread.
  for (var size = 2u; size <= C; size <<= 1u) {
    for (var stride = size >> 1u; stride > 0u; stride >>= 1u) {
      for (var r = 0u; r < 2u; r++) {
        let t = tid + r * WG;
        let i = (t / stride) * 2u * stride + t % stride;
        let j = i + stride;
        let vi = sv[i];
        let ii = si[i];
        let vj = sv[j];
        let ij = si[j];
        // Blocks with (i & size) == 0 are put in ranking order, the others reversed.
        var swap = ahead(vj, ij, vi, ii);
        if ((i & size) != 0u) { swap = ahead(vi, ii, vj, ij); }
        if (swap) {
          sv[i] = vj;
          si[i] = ij;
          sv[j] = vi;
          si[j] = ii;
        }
      }
      workgroupBarrier();
    }
  }

  for (var t = tid; t < p.k; t += WG) {
    let o = b * p.outStride + p.outCol0 + c * p.k + t;
    vals_out[o] = sv[t];
    ids_out[o] = si[t];
  }
}

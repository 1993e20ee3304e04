#!/usr/bin/env python3
"""Goldens for MedRank's MaxSim and S2-Attn kernels, from an independent PyTorch reference.

Run from the repository root:  /usr/bin/python3 scripts/goldens/make_kernel_goldens.py
Writes test/goldens/{maxsim,s2attn}_*.safetensors (see test/goldens/README.md).

Inputs are drawn from seeded generators and rounded to float32 first; the reference then runs in
float64 on exactly those float32 values (forward and torch autograd backward), and the results are
rounded to float32 for storage. The output is byte-identical from run to run.

Dimension legend: B = batch, Lq = query tokens, dim = embedding dim, N = docs, total = doc tokens
of all docs, H = query heads, Hkv = key/value heads, T = tokens, Dh = head dim, G = group size.
"""

import json
import os
import struct
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_DIR = os.path.join(ROOT, "test", "goldens")
TIE_GAP = 1e-3  # the top two similarities of every (b, n, i) must differ by more than this
GENERATOR = "scripts/goldens/make_kernel_goldens.py"


# --- safetensors writer (the Python package is not installed; the format is simple) -----------

def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, np.ndarray float32 or int32), laid out in order."""
    dtypes = {np.dtype("float32"): "F32", np.dtype("int32"): "I32"}
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, arr in tensors:
        arr = np.ascontiguousarray(arr)
        raw = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dtypes[arr.dtype], "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)  # data section 8-byte aligned; spaces are allowed by the spec
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)
    return os.path.getsize(path)


def f32(t):
    """float64 tensor -> float32 numpy array for storage."""
    return t.detach().to(torch.float32).numpy()


def as_f64(a):
    """float32 numpy -> float64 leaf tensor that requires grad (computation runs on f32 values)."""
    return torch.from_numpy(np.asarray(a, dtype=np.float32)).to(torch.float64).requires_grad_(True)


# --- MaxSim (ColBERT late interaction) -----------------------------------------------------------

def maxsim_reference(Q, Q_mask, D, offsets):
    """scores[b, n] = sum over unmasked i of max over j in doc n of Q[b, i] . D[j]."""
    sims = torch.einsum("bid,jd->bij", Q, D)  # [B, Lq, total]
    per_doc = []
    for n in range(len(offsets) - 1):
        s, e = offsets[n], offsets[n + 1]
        per_doc.append(sims[:, :, s:e].max(dim=2).values)  # [B, Lq]; gradient goes to the argmax
    best = torch.stack(per_doc, dim=2)  # [B, Lq, N]
    return (best * Q_mask[:, :, None]).sum(dim=1)  # [B, N]


def min_top2_gap(Q, D, offsets):
    sims = np.einsum("bid,jd->bij", Q.astype(np.float64), D.astype(np.float64))
    gap = np.inf
    for n in range(len(offsets) - 1):
        s, e = offsets[n], offsets[n + 1]
        if e - s < 2:
            continue
        top2 = np.sort(sims[:, :, s:e], axis=2)[:, :, -2:]
        gap = min(gap, float((top2[:, :, 1] - top2[:, :, 0]).min()))
    return gap


def l2_normalise(x):
    x = x.astype(np.float64)
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def plant_matches(rng, D, offsets, B, Lq):
    """Query vectors that each match one token of every doc, as real ColBERT queries do.

    Random unit vectors in 128 dims are nearly orthogonal, so with up to 40 tokens per doc and
    hundreds of (b, n, i) triples some top-two similarities always fall within 1e-3 of each other.
    Each query vector is instead a weighted sum of one random token per doc plus noise, which
    gives every max a clear winner (the noise still makes the losers' similarities varied).
    """
    dim = D.shape[1]
    Q = 0.08 * rng.standard_normal((B, Lq, dim))
    for n in range(len(offsets) - 1):
        pick = rng.integers(offsets[n], offsets[n + 1], size=(B, Lq))
        Q += rng.uniform(0.7, 1.0, size=(B, Lq, 1)) * D[pick].astype(np.float64)
    return Q.astype(np.float32)


def make_maxsim(name, seed, B, Lq, dim, doc_lens, masked, normalise, planted=False):
    """masked: list of (b, i) query tokens with mask 0. normalise: L2-normalise Q and D rows.
    planted: build Q from doc tokens (see plant_matches) instead of drawing it at random."""
    offsets = np.concatenate([[0], np.cumsum(doc_lens)]).astype(np.int32)
    total = int(offsets[-1])
    for attempt in range(1000):
        rng = np.random.default_rng(seed + attempt)
        D = rng.standard_normal((total, dim)).astype(np.float32)
        if planted:
            D = l2_normalise(D) if normalise else D
            Q = plant_matches(rng, D, offsets, B, Lq)
        else:
            Q = rng.standard_normal((B, Lq, dim)).astype(np.float32)
        if normalise:
            Q, D = l2_normalise(Q), l2_normalise(D)
        gap = min_top2_gap(Q, D, offsets)
        if gap > TIE_GAP:
            break
        print(f"{name}: seed {seed + attempt} has a near-tie (top-2 gap {gap:.2e}); trying the next seed")
    else:
        sys.exit(f"{name}: no draw without near-ties in 1000 tries")
    Q_mask = np.ones((B, Lq), dtype=np.float32)
    for b, i in masked:
        Q_mask[b, i] = 0.0
    dScores = rng.standard_normal((B, len(doc_lens))).astype(np.float32)

    Qt, Dt = as_f64(Q), as_f64(D)
    scores = maxsim_reference(Qt, torch.from_numpy(Q_mask).double(), Dt, offsets.tolist())
    (scores * torch.from_numpy(dScores).double()).sum().backward()

    tensors = [
        ("Q", Q), ("Q_mask", Q_mask), ("D", D), ("D_offsets", offsets), ("dScores", dScores),
        ("scores", f32(scores)), ("dQ", f32(Qt.grad)), ("dD", f32(Dt.grad)),
    ]
    meta = {
        "op": "maxsim", "seed": str(seed + attempt), "doc_lens": ",".join(map(str, doc_lens)),
        "l2_normalised": str(normalise).lower(), "planted": str(planted).lower(),
        "min_top2_gap": f"{gap:.6f}",
        "generator": GENERATOR, "torch": torch.__version__,
    }
    size = write_safetensors(os.path.join(OUT_DIR, f"{name}.safetensors"), tensors, meta)
    print(f"{name}.safetensors  {size / 1024:.1f} KiB  B={B} Lq={Lq} dim={dim} N={len(doc_lens)} docs={list(doc_lens)} "
          f"total={total} masked={len(masked)} seed={seed + attempt} min_top2_gap={gap:.4f} "
          f"|scores|max={float(scores.abs().max()):.4f}")


# --- S2-Attn (LongLoRA shifted sparse attention, roll version) ----------------------------------

def causal_attention(q, k, v):
    """q, k, v: [..., T, Dh]; causal softmax attention with scale 1/sqrt(Dh)."""
    T, Dh = q.shape[-2], q.shape[-1]
    s = q @ k.transpose(-1, -2) / Dh ** 0.5
    mask = torch.ones(T, T, dtype=torch.bool).triu(1)
    s = s.masked_fill(mask, float("-inf"))
    return torch.softmax(s, dim=-1) @ v


def s2attn_reference(q, k, v, ratio):
    """q: [B, H, T, Dh]; k, v: [B, Hkv, T, Dh]. Returns out [B, H, T, Dh].

    LongLoRA's roll version: k and v are expanded to H heads first (repeat_interleave, so query
    head h uses kv head h // (H / Hkv)); heads h >= H/2 see q, k, v rolled by -G/2 along time;
    causal attention within groups of G = T * ratio; the shifted heads' output is rolled back by
    +G/2. ratio 1 is plain full causal attention (no shift).
    """
    B, H, T, Dh = q.shape
    rep = H // k.shape[1]
    k = k.repeat_interleave(rep, dim=1)
    v = v.repeat_interleave(rep, dim=1)
    if ratio == 1:
        return causal_attention(q, k, v)
    G = int(T * ratio)
    assert T % G == 0 and G % 2 == 0
    half = H // 2

    def shift(x):
        return torch.cat([x[:, :half], x[:, half:].roll(-G // 2, dims=2)], dim=1)

    qs, ks, vs = shift(q), shift(k), shift(v)
    grouped = [x.reshape(B, H, T // G, G, Dh) for x in (qs, ks, vs)]
    out = causal_attention(*grouped).reshape(B, H, T, Dh)
    return torch.cat([out[:, :half], out[:, half:].roll(G // 2, dims=2)], dim=1)


def make_s2attn(name, seed, B, H, Hkv, T, Dh, ratio):
    g = torch.Generator().manual_seed(seed)
    draw = lambda *shape: torch.randn(*shape, generator=g, dtype=torch.float64).to(torch.float32).numpy()  # noqa: E731
    q, k, v, dout = draw(B, H, T, Dh), draw(B, Hkv, T, Dh), draw(B, Hkv, T, Dh), draw(B, H, T, Dh)
    qt, kt, vt = as_f64(q), as_f64(k), as_f64(v)
    out = s2attn_reference(qt, kt, vt, ratio)
    (out * torch.from_numpy(dout).double()).sum().backward()
    G = int(T * ratio)
    tensors = [
        ("q", q), ("k", k), ("v", v), ("dout", dout),
        ("out", f32(out)), ("dq", f32(qt.grad)), ("dk", f32(kt.grad)), ("dv", f32(vt.grad)),
    ]
    meta = {
        "op": "s2attn", "ratio": repr(float(ratio)), "group_size": str(G), "shift": "roll", "causal": "true",
        "shifted_heads": "none" if ratio == 1 else f"{H // 2}..{H - 1}", "seed": str(seed),
        "generator": GENERATOR, "torch": torch.__version__,
    }
    size = write_safetensors(os.path.join(OUT_DIR, f"{name}.safetensors"), tensors, meta)
    print(f"{name}.safetensors  {size / 1024:.1f} KiB  B={B} H={H} Hkv={Hkv} T={T} Dh={Dh} ratio={ratio} G={G} "
          f"seed={seed} |out|max={float(out.abs().max()):.4f} |dk|max={float(kt.grad.abs().max()):.4f}")


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    torch.set_num_threads(1)  # deterministic reduction order
    make_maxsim("maxsim_small", seed=1000, B=2, Lq=8, dim=16, doc_lens=[1, 3, 7, 12, 2],
                masked=[(0, 6), (1, 7)], normalise=False)
    make_maxsim("maxsim_colbert", seed=2000, B=3, Lq=32, dim=128, doc_lens=[40, 13, 1, 7, 25, 2],
                masked=[(1, i) for i in range(22, 32)], normalise=True, planted=True)
    make_s2attn("s2attn_t16_r025_gqa", seed=3000, B=2, H=4, Hkv=2, T=16, Dh=16, ratio=0.25)
    make_s2attn("s2attn_t16_r1_gqa", seed=3001, B=1, H=4, Hkv=2, T=16, Dh=16, ratio=1)
    make_s2attn("s2attn_t64_r025_gqa", seed=3002, B=1, H=4, Hkv=2, T=64, Dh=8, ratio=0.25)
    make_s2attn("s2attn_t64_r1_gqa", seed=3003, B=2, H=4, Hkv=2, T=64, Dh=8, ratio=1)
    make_s2attn("s2attn_t64_r025_mha", seed=3004, B=2, H=2, Hkv=2, T=64, Dh=8, ratio=0.25)


if __name__ == "__main__":
    main()

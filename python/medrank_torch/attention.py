"""Full attention and S2-Attn (LongLoRA shifted sparse attention), as src/tensor/ops/s2attn.ts.

Owns: `attention(q, k, v, ratio, shift, causal, key_mask)` on q [B, H, T, Dh] and k, v
[B, Hkv, T, Dh] (GQA: query head h reads kv head h // (H / Hkv)) -> [B, H, T, Dh], scale 1/sqrt(Dh).
G = round(T * ratio); heads h < floor(H/2) attend within groups [gG, (g+1)G); the others are
shifted by G/2: 'roll' (LongLoRA's code: q, k, v rolled by -G/2, the output rolled back; the first
G/2 tokens then see the last G/2, the known leak) or 'split' (groups [0, G/2), [G/2, 3G/2), ...,
[T - G/2, T): no wrap, no leak); 'none' keeps every head plain; one group (ratio 1) is full
attention with any shift ignored. Causal within each group when `causal`; key_mask [B, T] (0/1)
removes keys; a query left with no allowed key outputs 0 (the CPU twin's and the kernel's rule).
Attention-probability dropout is never applied (the browser's fused kernel has none).
torch.nn.functional.scaled_dot_product_attention runs every mask-free piece where it exists.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

SHIFTS = ("none", "roll", "split")
_SDPA = hasattr(F, "scaled_dot_product_attention")


class AttentionShapeError(ValueError):
    """Shapes or a ratio S2-Attn cannot take (s2attn's ShapeError)."""


def s2attn_group(T: int, ratio: float = 0.25, shift: str = "roll") -> tuple[int, str]:
    """(G, effective shift) for T, as s2attnGroup: ratio 1/n with T divisible by n (2n when shifted)."""
    if shift not in SHIFTS:
        raise AttentionShapeError(f"s2attn: shift must be one of {', '.join(SHIFTS)}, got {shift!r}")
    if not (0 < ratio <= 1):
        raise AttentionShapeError(f"s2attn: ratio must be in (0, 1] (the group size as a fraction of T), got {ratio}")
    n = 1 / ratio
    G = round(T * ratio)
    if abs(n - round(n)) > 1e-9:
        raise AttentionShapeError(f"s2attn: ratio must be 1/n for a whole n so that groups tile T, got {ratio}")
    groups = round(n)
    effective = "none" if groups == 1 else shift
    need = groups if effective == "none" else 2 * groups
    if T % need != 0 or G < 1:
        extra = "" if effective == "none" else f" with shift '{shift}' (G = T/{groups} must be even to shift by G/2)"
        raise AttentionShapeError(
            f"s2attn: T = {T} must be divisible by {need} for ratio 1/{groups}{extra}; pad the sequence to a multiple of {need}"
        )
    return G, effective


def _plain(q, k, v, causal: bool, key_mask):
    """Attention over the last-but-one axis of [..., L, Dh]; key_mask [..., L] (bool) or None."""
    if _SDPA and (key_mask is None or (not causal and bool(key_mask.any(-1).all()))):
        # Mask-free, or a padding mask that leaves every query a key (a BERT batch).
        shape = q.shape
        q4, k4, v4 = (t.reshape(-1, 1, shape[-2], shape[-1]) for t in (q, k, v))
        mask = None
        if key_mask is not None:
            mask = key_mask.expand(shape[:-1]).reshape(-1, 1, 1, shape[-2])
        return F.scaled_dot_product_attention(q4, k4, v4, attn_mask=mask, is_causal=causal and mask is None).reshape(shape)
    L = q.shape[-2]
    s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(q.shape[-1]))
    allowed = torch.ones(L, L, dtype=torch.bool, device=q.device)
    if causal:
        allowed = torch.tril(allowed)
    if key_mask is not None:
        allowed = allowed & key_mask[..., None, :]
    else:
        allowed = allowed.expand(s.shape)
    # A finite fill (not -inf) keeps a row with no allowed key NaN-free; it is zeroed below.
    p = torch.softmax(s.masked_fill(~allowed, torch.finfo(s.dtype).min), dim=-1)
    p = p * allowed.any(-1, keepdim=True).to(p.dtype)
    return p @ v


def _grouped(q, k, v, G: int, causal: bool, key_mask):
    """Attention within consecutive groups of G tokens; q, k, v [B, h, T, Dh], key_mask [B, T] bool."""
    B, h, T, Dh = q.shape
    n = T // G
    qg, kg, vg = (t.reshape(B, h, n, G, Dh) for t in (q, k, v))
    km = None if key_mask is None else key_mask.reshape(B, 1, n, G)
    return _plain(qg, kg, vg, causal, km).reshape(B, h, T, Dh)


def _split(q, k, v, G: int, causal: bool, key_mask):
    """Groups [0, G/2), [G/2, G/2 + G), ..., [T - G/2, T): the two half-groups form one batch of G/2."""
    B, h, T, Dh = q.shape
    s = G // 2
    mid = _grouped(q[:, :, s : T - s], k[:, :, s : T - s], v[:, :, s : T - s], G, causal,
                   None if key_mask is None else key_mask[:, s : T - s])

    def ends(t):
        return torch.stack([t[:, :, :s], t[:, :, T - s :]], dim=2)  # [B, h, 2, s, Dh]

    km = None if key_mask is None else torch.stack([key_mask[:, :s], key_mask[:, T - s :]], dim=1)[:, None]
    e = _plain(ends(q), ends(k), ends(v), causal, km)
    return torch.cat([e[:, :, 0], mid, e[:, :, 1]], dim=2)


def attention(q, k, v, ratio: float = 1.0, shift: str = "none", causal: bool = True, key_mask=None):
    """Full or shifted sparse attention: q [B, H, T, Dh], k and v [B, Hkv, T, Dh] -> [B, H, T, Dh].

    key_mask: [B, T] (0/1 or bool) or None. Differentiable in q, k and v."""
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        raise AttentionShapeError(f"attention: q, k, v must be [B, H, T, Dh] / [B, Hkv, T, Dh], got {list(q.shape)}, "
                                  f"{list(k.shape)}, {list(v.shape)}")
    B, H, T, Dh = q.shape
    Hkv = k.shape[1]
    if list(k.shape) != [B, Hkv, T, Dh] or v.shape != k.shape or Hkv == 0 or H % Hkv != 0:
        raise AttentionShapeError(
            f"attention: k and v must both be [B, Hkv, T, Dh] = [{B}, Hkv, {T}, {Dh}] with Hkv dividing H = {H}, "
            f"got k {list(k.shape)} and v {list(v.shape)}"
        )
    G, shift = s2attn_group(T, ratio, shift)
    if Hkv != H:  # repeat_interleave, as LongLoRA expands kv heads before the shift
        k = k.repeat_interleave(H // Hkv, dim=1)
        v = v.repeat_interleave(H // Hkv, dim=1)
    km = None
    if key_mask is not None:
        if list(key_mask.shape) != [B, T]:
            raise AttentionShapeError(f"attention: key_mask must be [B, T] = [{B}, {T}], got {list(key_mask.shape)}")
        km = key_mask.to(q.device) != 0
    if B * H * T == 0:
        return q.new_zeros(B, H, T, Dh)
    if shift == "none":
        return _grouped(q, k, v, G, causal, km)
    P = H // 2  # heads P.. are the shifted ones
    plain = _grouped(q[:, :P], k[:, :P], v[:, :P], G, causal, km) if P else None
    qs, ks, vs = q[:, P:], k[:, P:], v[:, P:]
    if shift == "roll":
        s = G // 2
        r = lambda t: torch.roll(t, -s, dims=2)  # noqa: E731  (x'[j] = x[(j + s) mod T])
        kms = None if km is None else torch.roll(km, -s, dims=1)
        shifted = torch.roll(_grouped(r(qs), r(ks), r(vs), G, causal, kms), s, dims=2)
    else:
        shifted = _split(qs, ks, vs, G, causal, km)
    return shifted if plain is None else torch.cat([plain, shifted], dim=1)

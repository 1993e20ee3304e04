"""S2-Attn and MaxSim against the PyTorch goldens of test/goldens (outputs and autograd gradients at
1e-4 relative), split shift against an independent dense masked reference, and MaxSim top-k against
brute force (ties to the lower document index)."""

import glob
import math
import os

import pytest
import torch

from medrank_torch import attention as A
from medrank_torch import safetensors as st
from medrank_torch.maxsim import MaxsimShapeError, maxsim, maxsim_topk

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDENS = os.path.join(ROOT, "test", "goldens")
TOL = 1e-4


def fake_sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False):
    """torch 2.x's scaled_dot_product_attention (math path, bool mask: True takes part), for torch 1.13."""
    s = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    L = q.shape[-2]
    if is_causal:
        s = s.masked_fill(~torch.ones(L, L, dtype=torch.bool).tril(), float("-inf"))
    if attn_mask is not None:
        s = s.masked_fill(~attn_mask, float("-inf"))
    return torch.softmax(s, -1) @ v


@pytest.fixture(params=["fallback", "sdpa"], autouse=True)
def sdpa(request, monkeypatch):
    """Every test runs on both paths: the masked fallback, and the SDPA branch (torch 2.x's, faked on 1.13)."""
    if request.param == "sdpa":
        monkeypatch.setattr(A, "_SDPA", True)
        if not hasattr(A.F, "scaled_dot_product_attention"):
            monkeypatch.setattr(A.F, "scaled_dot_product_attention", fake_sdpa, raising=False)
    else:
        monkeypatch.setattr(A, "_SDPA", False)
    return request.param


def rel(a, b) -> float:
    """max |a - b| relative to max |b|."""
    return float((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-30))


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(GOLDENS, "s2attn_*.safetensors"))), ids=os.path.basename)
def test_s2attn_roll_and_full_against_goldens(path):
    g, meta = st.load(path)
    q, k, v = (g[n].clone().requires_grad_() for n in ("q", "k", "v"))
    out = A.attention(q, k, v, ratio=float(meta["ratio"]), shift=meta["shift"], causal=True)
    (out * g["dout"]).sum().backward()
    for got, name in ((out, "out"), (q.grad, "dq"), (k.grad, "dk"), (v.grad, "dv")):
        assert rel(got, g[name]) < TOL, (name, rel(got, g[name]))


def dense_reference(q, k, v, G, shift, causal, key_mask):
    """float64, one T x T mask per head: position t's group is t // G, or (t + G/2) // G on the shifted
    heads under 'split' (groups [0, G/2), [G/2, 3G/2), ...); rows with no allowed key give 0."""
    B, H, T, Dh = q.shape
    k = k.repeat_interleave(H // k.shape[1], dim=1)
    v = v.repeat_interleave(H // v.shape[1], dim=1)
    t = torch.arange(T)
    outs = []
    for h in range(H):
        off = G // 2 if (shift == "split" and h >= H // 2) else 0
        grp = (t + off) // G
        allowed = grp[:, None] == grp[None, :]
        if causal:
            allowed = allowed & (t[None, :] <= t[:, None])
        allowed = allowed[None].expand(B, T, T)
        if key_mask is not None:
            allowed = allowed & (key_mask[:, None, :] != 0)
        s = (q[:, h] @ k[:, h].transpose(-1, -2)) / math.sqrt(Dh)
        s = s.masked_fill(~allowed, float("-inf"))
        p = torch.softmax(s, -1).nan_to_num(0.0)
        outs.append(p @ v[:, h])
    return torch.stack(outs, 1)


@pytest.mark.parametrize("H,Hkv,T,ratio,causal,masked", [
    (4, 2, 32, 0.25, True, False),
    (4, 4, 16, 0.5, True, True),
    (3, 1, 24, 1 / 3, False, True),
    (2, 2, 8, 0.5, False, False),
])
def test_split_shift_against_masked_reference(H, Hkv, T, ratio, causal, masked):
    gen = torch.Generator().manual_seed(11)
    B, Dh = 2, 8
    q, k, v, dout = (torch.randn(B, h, T, Dh, generator=gen) for h in (H, Hkv, Hkv, H))
    key_mask = (torch.rand(B, T, generator=gen) > 0.3).float() if masked else None
    G = round(T * ratio)
    q64, k64, v64 = (x.double().requires_grad_() for x in (q, k, v))
    ref = dense_reference(q64, k64, v64, G, "split", causal, key_mask)
    (ref * dout.double()).sum().backward()
    q32, k32, v32 = (x.clone().requires_grad_() for x in (q, k, v))
    out = A.attention(q32, k32, v32, ratio=ratio, shift="split", causal=causal, key_mask=key_mask)
    (out * dout).sum().backward()
    assert rel(out, ref) < TOL
    for a, b in ((q32, q64), (k32, k64), (v32, v64)):
        assert rel(a.grad, b.grad) < TOL
    # The split's shifted heads differ from roll's only where roll wraps (the first G/2 queries).
    if causal and not masked:
        roll = A.attention(q, k, v, ratio=ratio, shift="roll", causal=True)
        s = G // 2
        assert torch.allclose(roll[:, H // 2 :, s : T - s], out.detach()[:, H // 2 :, s : T - s], atol=1e-6)
        assert not torch.allclose(roll[:, H // 2 :, :s], out.detach()[:, H // 2 :, :s], atol=1e-3)


def test_full_bidirectional_with_key_mask_and_empty_rows():
    gen = torch.Generator().manual_seed(5)
    B, H, T, Dh = 3, 2, 6, 4
    q, k, v = (torch.randn(B, H, T, Dh, generator=gen) for _ in range(3))
    key_mask = torch.tensor([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0]], dtype=torch.float32)
    ref = dense_reference(q.double(), k.double(), v.double(), T, "none", False, key_mask)
    qq = q.clone().requires_grad_()
    out = A.attention(qq, k, v, ratio=1.0, causal=False, key_mask=key_mask)
    assert rel(out, ref) < TOL
    assert not out[2].any()  # a query with no allowed key outputs 0 ...
    out.sum().backward()
    assert torch.isfinite(qq.grad).all() and not qq.grad[2].any()  # ... and gets no gradient


def test_s2attn_refuses_what_the_kernel_refuses():
    x = torch.zeros(1, 2, 12, 4)
    with pytest.raises(A.AttentionShapeError, match="divisible by 8 for ratio 1/4 with shift 'roll'"):
        A.attention(x, x, x, ratio=0.25, shift="roll")
    with pytest.raises(A.AttentionShapeError, match="ratio must be 1/n"):
        A.attention(x, x, x, ratio=0.3)
    with pytest.raises(A.AttentionShapeError, match="multiple|Hkv dividing"):
        A.attention(torch.zeros(1, 3, 4, 4), x[:, :, :4], x[:, :, :4])


@pytest.mark.parametrize("name", ["maxsim_small", "maxsim_colbert"])
def test_maxsim_against_goldens(name):
    g, _ = st.load(os.path.join(GOLDENS, f"{name}.safetensors"))
    Q, D = g["Q"].clone().requires_grad_(), g["D"].clone().requires_grad_()
    scores = maxsim(Q, D, g["D_offsets"], q_mask=g["Q_mask"])
    (scores * g["dScores"]).sum().backward()
    assert rel(scores, g["scores"]) < TOL
    assert rel(Q.grad, g["dQ"]) < TOL and rel(D.grad, g["dD"]) < TOL
    assert not Q.grad[g["Q_mask"] == 0].any()


def test_maxsim_ties_go_to_the_first_row_and_padding_never_wins():
    q = torch.tensor([[[1.0, 0.0]]], requires_grad=True)
    D = torch.tensor([[0.5, 0.0], [0.5, 1.0], [-3.0, 0.0]], requires_grad=True)  # doc 0 = rows 0, 1 (tie); doc 1 = row 2
    s = maxsim(q, D, torch.tensor([0, 2, 3]))
    assert s.tolist() == [[0.5, -3.0]]  # a lone negative row still wins its doc: nothing is padded in
    s.sum().backward()
    assert D.grad.tolist() == [[1.0, 0.0], [0.0, 0.0], [1.0, 0.0]]
    with pytest.raises(MaxsimShapeError, match="document 1 is empty"):
        maxsim(q, D, [0, 3, 3])
    with pytest.raises(MaxsimShapeError, match="offsets end at row 2"):
        maxsim(q, D, [0, 2])


def test_maxsim_topk_exact_with_ties_and_chunks():
    # Small integers: every dot product and sum is exact in float32, so ties are exact whatever the chunking.
    gen = torch.Generator().manual_seed(3)
    lengths = [3, 1, 4, 2, 5, 1, 3, 2, 2, 4, 1, 3]
    D = torch.randint(-3, 4, (sum(lengths), 8), generator=gen).float()
    D[14:16] = D[8:10]  # doc 7 repeats doc 3: tied everywhere
    offsets = torch.tensor([0] + lengths).cumsum(0)
    q = torch.randint(-2, 3, (3, 5, 8), generator=gen).float()
    q[2] = 0  # every score 0: the order is the doc order
    full = maxsim(q, D, offsets)
    want = [sorted(range(len(lengths)), key=lambda n: (-float(row[n]), n)) for row in full]
    assert all(w.index(3) < w.index(7) for w in want)
    for chunk, budget in ((1, 1 << 25), (5, 1 << 25), (100, 1 << 25), (100, 40)):
        v, i = maxsim_topk(q, D, offsets, 7, doc_chunk=chunk, max_elements=budget)
        assert i.tolist() == [w[:7] for w in want]
        assert torch.equal(v, full.gather(1, i))
    assert maxsim_topk(q, D, offsets, 12)[1][2].tolist() == list(range(12))

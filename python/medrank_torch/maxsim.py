"""ColBERT late interaction: MaxSim scores (differentiable) and exact top-k search (src/tensor/ops/maxsim.ts).

Owns: `maxsim(q, vectors, offsets)`: scores[b, n] = sum over query tokens i of max over doc n's rows
j of q[b, i] . vectors[j], documents packed back to back (doc n is rows offsets[n] .. offsets[n+1]),
so padding never wins; the gradient of each max goes to its first argmax (the kernel's rule on
ties). `maxsim_topk(q, vectors, offsets, k)`: the k best documents per query, scored in chunks of
documents to bound memory, ordered value descending then lower document index first
(kernels/topk_forward.wgsl). Both take an optional q_mask [B, Lq] (0 drops a query token), which
the retriever never passes (every query token counts, [MASK] augmentation included).
B = queries, Lq = query tokens, dim = vector dim, N = documents, total = packed rows.
"""

from __future__ import annotations

import torch


class MaxsimShapeError(ValueError):
    """Offsets or shapes MaxSim cannot take (maxsim's ShapeError)."""


def check_offsets(offsets, total: int) -> torch.Tensor:
    """offsets as a LongTensor [N + 1] on the CPU, checked as checkOffsets (every doc non-empty)."""
    o = torch.as_tensor(offsets).to(device="cpu", dtype=torch.long).reshape(-1)
    N = o.numel() - 1
    if N < 1:
        raise MaxsimShapeError(f"maxsim: offsets must hold N + 1 >= 2 values (doc n is rows offsets[n]..offsets[n+1]), got {o.numel()}")
    if int(o[0]) != 0:
        raise MaxsimShapeError(f"maxsim: offsets[0] must be 0, got {int(o[0])}")
    d = o[1:] - o[:-1]
    if bool((d <= 0).any()):
        n = int(torch.nonzero(d <= 0)[0])
        if int(d[n]) == 0:
            raise MaxsimShapeError(
                f"maxsim: document {n} is empty (offsets[{n}] = offsets[{n + 1}] = {int(o[n])}); a document needs at least "
                "one token vector to match against: drop empty documents before packing the corpus"
            )
        raise MaxsimShapeError(f"maxsim: offsets must increase, but offsets[{n}] = {int(o[n])} > offsets[{n + 1}] = {int(o[n + 1])}")
    if int(o[-1]) != total:
        raise MaxsimShapeError(
            f"maxsim: offsets end at row {int(o[-1])} but docs have {total} rows; offsets[N] must equal the number of packed token vectors"
        )
    return o


def _check_query(q, q_mask, dim: int) -> None:
    if q.dim() != 3 or min(q.shape) < 1:
        raise MaxsimShapeError(f"maxsim: q must be [B, Lq, dim] with every dim >= 1, got {list(q.shape)}")
    if q.shape[2] != dim:
        raise MaxsimShapeError(
            f"maxsim: q {list(q.shape)} has vectors of dim {q.shape[2]} but docs have dim {dim}; encode both with the same projection"
        )
    if q_mask is not None and list(q_mask.shape) != list(q.shape[:2]):
        raise MaxsimShapeError(f"maxsim: q_mask must be [B, Lq] = {list(q.shape[:2])}, got {list(q_mask.shape)}")


def _layout(o: torch.Tensor, device):
    """Row index [N, Lmax] of each doc's rows (padded with row 0) and the validity mask."""
    lengths = o[1:] - o[:-1]
    L = int(lengths.max())
    j = torch.arange(L)
    valid = j[None, :] < lengths[:, None]
    rows = torch.where(valid, o[:-1, None] + j[None, :], torch.zeros((), dtype=torch.long))
    return rows.to(device), valid.to(device)


def _scores(q, vectors, o, q_mask):
    """[B, N] MaxSim of q against the docs of offsets o (rebased to vectors' first row)."""
    rows, valid = _layout(o, vectors.device)
    sim = q @ vectors.t()  # [B, Lq, total]
    padded = sim[:, :, rows]  # [B, Lq, N, Lmax]
    padded = padded.masked_fill(~valid, float("-inf"))
    arg = padded.detach().argmax(dim=-1, keepdim=True)  # the first maximal value, as the kernel
    best = padded.gather(-1, arg).squeeze(-1)  # [B, Lq, N]; the gradient goes to the argmax only
    if q_mask is not None:
        best = best * (q_mask.to(best.device) != 0).to(best.dtype)[:, :, None]
    return best.sum(dim=1)


def maxsim(q, vectors, offsets, q_mask=None):
    """MaxSim scores [B, N] of q [B, Lq, dim] against packed docs vectors [total, dim]; differentiable."""
    if vectors.dim() != 2 or vectors.shape[1] < 1:
        raise MaxsimShapeError(f"maxsim: docs must be the packed corpus [total, dim], got {list(vectors.shape)}")
    _check_query(q, q_mask, vectors.shape[1])
    o = check_offsets(offsets, vectors.shape[0])
    return _scores(q, vectors, o, q_mask)


@torch.no_grad()
def maxsim_topk(q, vectors, offsets, k: int, doc_chunk: int = 1024, q_mask=None, max_elements: int = 1 << 25):
    """(scores [B, k] float, idx [B, k] long) of the k best documents per query, best first, ties to
    the lower document index. Exact; documents are scored doc_chunk at a time, fewer when the chunk's
    similarities (B x Lq x its packed rows) would exceed max_elements, which bounds the memory."""
    if vectors.dim() != 2 or vectors.shape[1] < 1:
        raise MaxsimShapeError(f"maxsim_topk: docs must be the packed corpus [total, dim], got {list(vectors.shape)}")
    _check_query(q, q_mask, vectors.shape[1])
    o = check_offsets(offsets, vectors.shape[0])
    N = o.numel() - 1
    if not (isinstance(k, int) and 1 <= k <= N):
        raise MaxsimShapeError(f"maxsim_topk: k = {k} must be an integer in [1, N] with N = {N} documents")
    best_v = best_i = None
    n0 = 0
    while n0 < N:
        n1 = min(N, n0 + max(1, doc_chunk))
        while n1 - n0 > 1 and q.shape[0] * q.shape[1] * int(o[n1] - o[n0]) > max_elements:
            n1 = n0 + (n1 - n0) // 2
        r0 = int(o[n0])
        s = _scores(q, vectors[r0 : int(o[n1])], o[n0 : n1 + 1] - r0, q_mask)  # [B, n1 - n0]
        ids = torch.arange(n0, n1, device=s.device).expand_as(s)
        v = s if best_v is None else torch.cat([best_v, s], dim=1)
        i = ids if best_i is None else torch.cat([best_i, ids], dim=1)
        # A stable sort keeps equal values in index order: earlier candidates hold lower indices.
        v, order = torch.sort(v, dim=1, descending=True, stable=True)
        best_v, best_i = v[:, :k], i.gather(1, order)[:, :k]
        n0 = n1
    return best_v, best_i

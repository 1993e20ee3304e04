"""The ColBERT index of the bundle's passages, sharded across ranks, and exact MaxSim top-K search.

Owns: encoding passages into packed token vectors (no dropout, as src/retrieval/index.ts builds
it), each rank holding a contiguous share of the passages; search = every rank's exact top-K over
its share, merged by (score descending, passage index ascending) after an all_gather, which is
the order the browser's top-k kernel gives; gathering candidates' vectors from whichever rank
holds them (query-side training reads document vectors from the index).
"""

from __future__ import annotations

import torch

from .maxsim import maxsim_topk
from .rng import ForwardContext


class Index:
    def __init__(self, vectors: torch.Tensor, offsets: torch.Tensor, first: int, count: int):
        self.vectors = vectors  # [rows, dim] of passages first .. first+count-1
        self.offsets = offsets  # [count + 1]
        self.first = first
        self.count = count

    def rows_of(self, p: int) -> torch.Tensor:
        i = p - self.first
        return self.vectors[int(self.offsets[i]) : int(self.offsets[i + 1])]


@torch.no_grad()
def build_index(retriever, bundle, dist, batch_size: int = 32) -> Index:
    P = len(bundle.passage_ids)
    a, b = dist.share(P)
    vecs, offs = [], [0]
    # Batches of the whole corpus as one process makes them, each padded to its longest document,
    # so a rank's share pads (and rounds) as the browser's index does.
    for s in range(a - a % batch_size, b, batch_size):
        batch = range(s, min(s + batch_size, P))
        T = max(len(bundle.colbert_docs[p]) for p in batch)
        docs = [(bundle.colbert_docs[p], bundle.colbert_keep[p]) for p in batch if a <= p < b]
        v, o = retriever.encode_docs(docs, ForwardContext(False), T=T)
        vecs.append(v)
        base = offs[-1]
        offs.extend(base + int(x) for x in o[1:].tolist())
    dim = retriever.dim
    device = next(retriever.parameters()).device
    vectors = torch.cat(vecs) if vecs else torch.zeros(0, dim, device=device)
    return Index(vectors, torch.tensor(offs, dtype=torch.long, device=vectors.device), a, b - a)


@torch.no_grad()
def search(index: Index, retriever, bundle, questions: list, k: int, dist, query_batch: int = 32):
    """Top-k passages (indices into the bundle's passages) and scores of each question, best first."""
    P = len(bundle.passage_ids)
    kk = min(k, P)
    local = []
    for s in range(0, len(questions), query_batch):
        qs = questions[s : s + query_batch]
        q = retriever.encode_queries(bundle.query_ids[qs].to(index.vectors.device), bundle.query_mask[qs].to(index.vectors.device))
        if index.count:
            sc, ix = maxsim_topk(q, index.vectors, index.offsets, min(kk, index.count))
            for row_s, row_i in zip(sc.tolist(), ix.tolist()):
                local.append([(v, i + index.first) for v, i in zip(row_s, row_i)])
        else:
            local.extend([] for _ in qs)
    shards = dist.gather(local)
    ids, scores = [], []
    for qi in range(len(questions)):
        merged = sorted((x for sh in shards for x in sh[qi]), key=lambda t: (-t[0], t[1]))[:kk]
        ids.append([i for _, i in merged])
        scores.append([v for v, _ in merged])
    return ids, scores


def candidate_vectors(index: Index, wanted: list, dist) -> dict:
    """{passage index: its token vectors} for every wanted passage, from the rank that holds it."""
    mine = {p: index.rows_of(p).cpu() for p in set(wanted) if index.first <= p < index.first + index.count}
    out = {}
    for part in dist.gather(mine):
        out.update(part)
    return {p: v.to(index.vectors.device) for p, v in out.items()}

"""Retrieval metrics and rank correlations exactly as src/data/metrics.ts computes them.

Owns: recall@k, MRR@10, nDCG@10 per question and averaged over questions with gold; Spearman's rho
on average ranks and Kendall's tau-b (0 where undefined).
"""

from __future__ import annotations

import math


def question_metrics(ranked, gold, ks):
    relevant = set(gold)
    recall = {}
    for k in ks:
        hits = sum(1 for d in ranked[:k] if d in relevant)
        recall[k] = hits / len(relevant) if relevant else 0
    first = next((i for i, d in enumerate(ranked) if d in relevant), -1)
    first_rank = None if first < 0 else first + 1
    mrr10 = 1 / first_rank if first_rank is not None and first_rank <= 10 else 0
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:10]) if d in relevant)
    idcg = sum(1 / math.log2(i + 2) for i in range(min(10, len(relevant))))
    return {"recall": recall, "mrr10": mrr10, "ndcg10": dcg / idcg if idcg else 0, "firstGoldRank": first_rank}


def aggregate(per_question, gold, ks):
    scored = [m for i, m in enumerate(per_question) if len(gold[i]) > 0]
    n = len(scored)

    def mean(f):
        return sum(f(m) for m in scored) / n if n else 0

    return {
        "questions": n,
        "recall": {k: mean(lambda m, k=k: m["recall"].get(k, 0)) for k in ks},
        "mrr10": mean(lambda m: m["mrr10"]),
        "ndcg10": mean(lambda m: m["ndcg10"]),
    }


def _ranks(x):
    idx = sorted(range(len(x)), key=lambda i: x[i])
    r = [0.0] * len(x)
    i = 0
    while i < len(idx):
        j = i
        while j + 1 < len(idx) and x[idx[j + 1]] == x[idx[i]]:
            j += 1
        for k in range(i, j + 1):
            r[idx[k]] = (i + j) / 2 + 1
        i = j + 1
    return r


def spearman(a, b) -> float:
    ra, rb = _ranks(a), _ranks(b)
    n = len(a)
    ma, mb = sum(ra) / n, sum(rb) / n
    sab = saa = sbb = 0.0
    for i in range(n):
        sab += (ra[i] - ma) * (rb[i] - mb)
        saa += (ra[i] - ma) ** 2
        sbb += (rb[i] - mb) ** 2
    return sab / math.sqrt(saa * sbb) if saa > 0 and sbb > 0 else 0


def kendall(a, b) -> float:
    conc = disc = ta = tb = 0
    sign = lambda v: (v > 0) - (v < 0)  # noqa: E731
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            da, db = sign(a[i] - a[j]), sign(b[i] - b[j])
            if da == 0 and db == 0:
                continue
            if da == 0:
                ta += 1
            elif db == 0:
                tb += 1
            elif da == db:
                conc += 1
            else:
                disc += 1
    denom = math.sqrt((conc + disc + ta) * (conc + disc + tb))
    return (conc - disc) / denom if denom > 0 else 0

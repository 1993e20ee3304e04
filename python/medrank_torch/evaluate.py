"""Held-out evaluation as src/training/evaluate.ts computes it: answer accuracy by option likelihood
(lowest mean NLL wins) with no document, the top-m retrieved and the gold passages (oracle);
recall@k and MRR@10 of gold passages; alignment (Spearman, Kendall) between retriever scores and
-NLL of the answer over the top candidates. Ranks share the questions and gather the outcomes.
Q = questions, A = alignment candidates.
"""

from __future__ import annotations

import time

from .index import search
from .metrics import aggregate, kendall, question_metrics, spearman
from .prompts import nll_many


def evaluate(retriever, generator, index, prompts, bundle, questions: list, top_m: int, alignment_candidates: int, dist, ks=(1, 5, 10),
             per_question: bool = False) -> dict:
    """The browser's EvalResult; with per_question, also "perQuestion": each question's id, whether
    each condition answered it (null when it has no options or no gold passage), its recall@k, its
    reciprocal rank within 10 and its Spearman over the alignment candidates (null under 2), the
    inputs of paired bootstrap intervals (scripts/demo-report.ts)."""
    t0 = time.perf_counter()
    ks = list(ks)
    depth = max(alignment_candidates, top_m, *ks)
    ids, scores = search(index, retriever, bundle, questions, depth, dist)
    a, b = dist.share(len(questions))
    # Every sequence of this rank's questions in one list, scored in token-budget batches (as the browser).
    examples, plan = [], []
    for i in range(a, b):
        q = questions[i]
        o = bundle.options_of(q)

        def slot(docs, q=q, o=o):
            if o is None or docs is None:
                return None
            at = len(examples)
            prompt = prompts.prompt(q, docs)
            for opt in o[0]:
                examples.append((prompt, opt))
            return at

        gold_docs = bundle.gold_docs[q][:top_m]
        cond = {"none": slot([]), "retrieved": slot(ids[i][:top_m]), "oracle": slot(gold_docs if gold_docs else None)}
        align = ids[i][:alignment_candidates]
        align_at = len(examples)
        for d in align:
            examples.append(prompts.example(q, [d]))
        plan.append((i, o, cond, align_at, len(align)))
    mean = nll_many(generator, examples)[1] if examples else []
    mine = []
    for i, o, cond, align_at, n_align in plan:
        out = {"scored": o is not None, "correct": {}, "rho": None, "tau": None}
        if o is not None:
            for k, at in cond.items():
                if at is None:
                    continue
                best = 0
                for j in range(1, len(o[0])):
                    if mean[at + j] < mean[at + best]:
                        best = j
                out["correct"][k] = best == o[1]
        if n_align >= 2:
            s = scores[i][:n_align]
            u = [-float(v) for v in mean[align_at : align_at + n_align]]
            out["rho"], out["tau"] = spearman(s, u), kendall(s, u)
        mine.append(out)
    outs = [x for part in dist.gather(mine) for x in part]
    correct = {"none": 0, "retrieved": 0, "oracle": 0}
    scored = 0
    rho, tau = [], []
    for x in outs:
        if x["scored"]:
            scored += 1
            for k, v in x["correct"].items():
                correct[k] += 1 if v else 0
        if x["rho"] is not None:
            rho.append(x["rho"])
            tau.append(x["tau"])
    per_q = [question_metrics([bundle.passage_ids[d] for d in ids[i]], [bundle.passage_ids[d] for d in bundle.gold_docs[q]], ks)
             for i, q in enumerate(questions)]
    agg = aggregate(per_q, [bundle.gold_docs[q] for q in questions], ks)

    def avg(xs):
        return sum(xs) / len(xs) if xs else 0

    def acc(n):
        return n / scored if scored else 0

    out = {
        "questions": len(questions),
        "scored": scored,
        "accuracy": {k: acc(v) for k, v in correct.items()},
        "recall": agg["recall"],
        "mrr10": agg["mrr10"],
        "alignment": {"spearman": avg(rho), "kendall": avg(tau)},
        "ms": (time.perf_counter() - t0) * 1000,
    }
    if per_question:
        out["perQuestion"] = {
            "ids": [bundle.question_ids[q] for q in questions],
            "correct": {k: [None if k not in x["correct"] else int(x["correct"][k]) for x in outs] for k in correct},
            "recall": {str(k): [m["recall"][k] for m in per_q] for k in ks},
            "rr10": [m["mrr10"] for m in per_q],
            "spearman": [x["rho"] for x in outs],
        }
    return out

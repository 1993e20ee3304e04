"""The twin's retriever losses and sampler against the goldens the browser is tested on.

test/goldens/losses.json comes from PyTorch autograd in float64 (scripts/goldens/make_loss_goldens.py,
independent of the twin); values and gradients must agree to 1e-9 as in test/unit/losses.test.ts.
"""

import json
import math
import os

import pytest

from medrank_torch import losses as L
from medrank_torch.rng import mulberry32
from medrank_torch.sampler import draw_without_replacement, sample_documents

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
CASES = json.load(open(os.path.join(ROOT, "test/goldens/losses.json")))["cases"]


def compute(c):
    i = c["inputs"]
    s = i.get("scores")
    k = c["loss"]
    if k == "llmRank":
        return L.llm_rank_loss(s, i["sampled"], i["nll"], i.get("margin", 0.0)), None
    if k == "listwise":
        return L.listwise_loss(s, i["sampled"], i["nll"], i["tauS"], i["tauG"]), None
    if k == "jomed":
        g, w = L.jomed_gold(i["labelLogits"], i["gold"])
        return L.jomed_loss(s, g, i["tauS"], i["tauG"], i["prior"]), w
    if k == "pdist":
        return L.pdist_loss(s, i["nllMean"], i["tau"]), None
    if k == "loop":
        return L.loop_loss(s, i["nllWithout"], i["tau"]), None
    if k == "replug":
        return L.replug_loss(s, i["loglik"], i["tauS"], i["tauG"]), None
    if k == "emdr2":
        return L.emdr2_loss(s, i["tokenLogProbs"]), None
    if k == "ragMarginal":
        return L.rag_marginal_loss(s, i["loglik"]), None
    if k == "infoNce":
        rows = i["scores"]
        return L.info_nce_loss([v for r in rows for v in r], len(rows), len(rows[0]), i["positive"], i["tau"]), None
    raise AssertionError(k)


def test_every_kind_is_covered():
    assert sorted({c["loss"] for c in CASES}) == sorted(
        ["emdr2", "infoNce", "jomed", "listwise", "llmRank", "loop", "pdist", "ragMarginal", "replug"])


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_loss_matches_autograd(case):
    (loss, grad), w = compute(case)
    want = [v for g in case["grad"] for v in (g if isinstance(g, list) else [g])]
    assert len(grad) == len(want)
    assert abs(loss - case["value"]) <= 1e-9 * max(1, abs(case["value"]))
    scale = max([1] + [abs(v) for v in want])
    assert max(abs(a - b) for a, b in zip(grad, want)) <= 1e-9 * scale
    if "weight" in case:
        assert w == case["weight"]


def test_sampler_pairs_follow_sequential_draws():
    # Ordered pairs (first, second) over many seeded draws follow p_i p_j / (1 - p_i).
    probs = [0.4, 0.3, 0.2, 0.1]
    rand = mulberry32(1)
    n = 100000
    counts = {}
    for _ in range(n):
        d = draw_without_replacement(probs, 2, rand)
        counts[tuple(d)] = counts.get(tuple(d), 0) + 1
    chi = 0.0
    for i in range(4):
        for j in range(4):
            if i == j:
                continue
            e = n * probs[i] * probs[j] / (1 - probs[i])
            chi += (counts.get((i, j), 0) - e) ** 2 / e
    assert chi < 31.26  # 11 degrees of freedom, p = 0.001 (a sampler that forgets to renormalise: > 1000)
    # Draws are distinct and every weight is renormalised.
    probs2, drawn = sample_documents([0.1, 0.5, -2.0, 3.0], 4, mulberry32(1))
    assert sorted(drawn) == [0, 1, 2, 3]
    assert math.isclose(sum(probs2), 1.0, rel_tol=1e-12)

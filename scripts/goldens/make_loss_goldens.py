#!/usr/bin/env python3
"""Goldens for MedRank's retriever/generator training losses, from an independent PyTorch reference.

Run from the repository root:  /usr/bin/python3 scripts/goldens/make_loss_goldens.py
Writes test/goldens/losses.json:

  {"cases": [{"name": str, "loss": kind, "inputs": {...}, "value": float, "grad": [...]}, ...]}

`value` is the loss and `grad` is d value / d inputs.scores (same nesting as `scores`), both
computed in float64 with torch autograd (no hand-derived gradients). Kinds: llmRank, listwise,
jomed (also carries "weight"; grad is of the unweighted value), pdist, loop, replug, emdr2,
ragMarginal, infoNce. Inputs come from a seeded numpy Generator (scores ~ N(0, 3), NLLs ~
U(0.5, 6) unless a case says otherwise), so reruns are byte-identical. Floats are written with
Python's shortest round-trip repr (json.dump), unrounded.
"""

import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
RNG = np.random.default_rng(20240611)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "goldens", "losses.json")


def fl(a):
    """numpy / torch array -> nested lists of Python floats."""
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64).tolist()


def t(a):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64)


def scores_n(*shape, std=3.0):
    return RNG.normal(0.0, std, size=shape)


def nll_u(*shape):
    return RNG.uniform(0.5, 6.0, size=shape)


def kl(log_p, log_q):
    """sum_i P_i (log P_i - log Q_i), P and Q given as log-probabilities."""
    return F.kl_div(log_q, log_p, reduction="sum", log_target=True)


def minmax(s):
    mn, mx = torch.min(s), torch.max(s)
    return 2.0 * (s - mn) / (mx - mn) - 1.0


def run(fn, scores):
    s = t(scores).requires_grad_(True)
    v = fn(s)
    v.backward()
    val = float(v.detach())
    g = fl(s.grad)
    assert math.isfinite(val) and np.all(np.isfinite(np.asarray(g))), "non-finite"
    return val, g


CASES = []


def add(name, kind, inputs, fn, extra=None):
    val, g = run(fn, inputs["scores"])
    case = {"name": name, "loss": kind, "inputs": inputs, "value": val, "grad": g}
    if extra:
        case.update(extra)
    CASES.append(case)


# ---------------------------------------------------------------- 1. llmRank (pairwise BCE)
def llm_rank_fn(sampled, nll):
    idx = torch.tensor(sampled, dtype=torch.long)

    def f(s):
        sp = minmax(s)[idx]
        n = len(sampled)
        terms, npairs = [], 0
        for a in range(n):
            for b in range(a + 1, n):
                x = sp[a] - sp[b]
                y = torch.tensor(1.0 if nll[b] > nll[a] else 0.0)
                terms.append(F.binary_cross_entropy_with_logits(x, y))
                npairs += 1
        return torch.stack(terms).sum() / (1 + npairs)

    return f


def sample_idx(K, n):
    return [int(i) for i in RNG.permutation(K)[:n]]


for name, K, n, tie in [("llmRank_K5_n2", 5, 2, False), ("llmRank_K12_n6_nllTie", 12, 6, True),
                        ("llmRank_K20_n10", 20, 10, False)]:
    s = scores_n(K)
    sampled = sample_idx(K, n)
    nll = nll_u(n)
    if tie:
        nll[3] = nll[1]
    inp = {"scores": fl(s), "sampled": sampled, "nll": fl(nll)}
    add(name, "llmRank", inp, llm_rank_fn(sampled, fl(nll)))


# ---------------------------------------------------------------- 2. listwise KL on min-max scores
def listwise_fn(sampled, nll, tauS, tauG):
    idx = torch.tensor(sampled, dtype=torch.long)

    def f(s):
        log_q = F.log_softmax(minmax(s)[idx] / tauS, dim=0)
        log_p = F.log_softmax(-t(nll) / tauG, dim=0)
        return kl(log_p, log_q)

    return f


for name, K, n, tauS, tauG, tie in [("listwise_K6_n3_t1", 6, 3, 1.0, 1.0, False),
                                    ("listwise_K10_n5_tS0.1_tG0.5_nllTie", 10, 5, 0.1, 0.5, True),
                                    ("listwise_K16_n8_tS0.05_tG2", 16, 8, 0.05, 2.0, False)]:
    s = scores_n(K)
    sampled = sample_idx(K, n)
    nll = nll_u(n)
    if tie:
        nll[2] = nll[0]
    inp = {"scores": fl(s), "sampled": sampled, "nll": fl(nll), "tauS": tauS, "tauG": tauG}
    add(name, "listwise", inp, listwise_fn(sampled, fl(nll), tauS, tauG))


# ---------------------------------------------------------------- 3. JOMED KL
def jomed_fn(label_logits, gold, tauS, tauG, prior):
    def f(s):
        g = F.log_softmax(t(label_logits), dim=1)[:, gold]
        if prior:
            g = F.log_softmax(g, dim=0) + F.log_softmax(s.detach(), dim=0)
        log_t = F.log_softmax(g / tauG, dim=0)
        return kl(log_t, F.log_softmax(s / tauS, dim=0))

    return f


for name, K, L, tauS, tauG, prior, same_argmax in [
        ("jomed_K4_L3_t1_noPrior", 4, 3, 1.0, 1.0, False, False),
        ("jomed_K8_L4_tS0.5_tG2_prior", 8, 4, 0.5, 2.0, True, False),
        ("jomed_K6_L3_tS2_tG0.3_prior_sameArgmax", 6, 3, 2.0, 0.3, True, True)]:
    s = scores_n(K)
    ll = RNG.normal(0.0, 2.0, size=(K, L))
    if same_argmax:
        ll[:, 1] += 10.0
    gold = int(RNG.integers(0, L))
    am = np.argmax(ll, axis=1)
    weight = 0.0 if np.all(am == am[0]) else 1.0
    assert weight == (0.0 if same_argmax else 1.0)
    inp = {"scores": fl(s), "labelLogits": fl(ll), "gold": gold, "tauS": tauS, "tauG": tauG, "prior": prior}
    add(name, "jomed", inp, jomed_fn(fl(ll), gold, tauS, tauG, prior), extra={"weight": weight})


# ---------------------------------------------------------------- 4. Atlas perplexity distillation
def pdist_fn(nll_mean, tau):
    def f(s):
        return kl(F.log_softmax(-t(nll_mean) / tau, dim=0), F.log_softmax(s / tau, dim=0))

    return f


for name, K, tau, sstd, tie in [("pdist_K5_tau1_scoreTie", 5, 1.0, 3.0, True),
                                ("pdist_K10_tau0.1", 10, 0.1, 3.0, False),
                                ("pdist_K8_tau0.01_smallScores", 8, 0.01, 0.05, False)]:
    s = scores_n(K, std=sstd)
    if tie:
        s[3] = s[1]
    nm = nll_u(K)
    inp = {"scores": fl(s), "nllMean": fl(nm), "tau": tau}
    add(name, "pdist", inp, pdist_fn(fl(nm), tau))


# ---------------------------------------------------------------- 5. Atlas leave-one-out
def loop_fn(nll_without, tau):
    def f(s):
        return kl(F.log_softmax(t(nll_without) / tau, dim=0), F.log_softmax(s / tau, dim=0))

    return f


for name, K, tau, tie in [("loop_K4_tau1", 4, 1.0, False), ("loop_K8_tau0.1_nllTie", 8, 0.1, True),
                          ("loop_K16_tau0.5", 16, 0.5, False)]:
    s = scores_n(K)
    nw = nll_u(K)
    if tie:
        nw[5] = nw[2]
    inp = {"scores": fl(s), "nllWithout": fl(nw), "tau": tau}
    add(name, "loop", inp, loop_fn(fl(nw), tau))


# ---------------------------------------------------------------- 6. REPLUG LSR
def replug_fn(loglik, tauS, tauG):
    def f(s):
        return kl(F.log_softmax(t(loglik) / tauG, dim=0), F.log_softmax(s / tauS, dim=0))

    return f


for name, K, tauS, tauG, tie in [("replug_K5_t1", 5, 1.0, 1.0, False),
                                 ("replug_K10_tS0.1_tG0.5_scoreTie", 10, 0.1, 0.5, True),
                                 ("replug_K20_tS2_tG0.1", 20, 2.0, 0.1, False)]:
    s = scores_n(K)
    if tie:
        s[7] = s[4]
    T = int(RNG.integers(3, 12))
    ll = -np.sum(RNG.uniform(0.01, 3.0, size=(K, T)), axis=1)  # -(sum of per-token NLLs)
    inp = {"scores": fl(s), "loglik": fl(ll), "tauS": tauS, "tauG": tauG}
    add(name, "replug", inp, replug_fn(fl(ll), tauS, tauG))


# ---------------------------------------------------------------- 7. EMDR2 (token-level marginal)
def emdr2_fn(lp):
    def f(s):
        return -torch.logsumexp(F.log_softmax(s, dim=0)[:, None] + t(lp), dim=0).sum()

    return f


for name, K, T, tie in [("emdr2_K3_T1", 3, 1, False), ("emdr2_K6_T5_scoreTie", 6, 5, True),
                        ("emdr2_K10_T8", 10, 8, False)]:
    s = scores_n(K)
    if tie:
        s[2] = s[0]
    lp = RNG.uniform(-6.0, -0.01, size=(K, T))
    inp = {"scores": fl(s), "tokenLogProbs": fl(lp)}
    add(name, "emdr2", inp, emdr2_fn(fl(lp)))


# ---------------------------------------------------------------- 8. RAG marginal (sequence level)
def rag_fn(loglik):
    def f(s):
        return -torch.logsumexp(F.log_softmax(s, dim=0) + t(loglik), dim=0)

    return f


for name, K, tie in [("ragMarginal_K2", 2, False), ("ragMarginal_K7_scoreTie", 7, True),
                     ("ragMarginal_K16", 16, False)]:
    s = scores_n(K)
    if tie:
        s[5] = s[1]
    T = int(RNG.integers(3, 12))
    ll = -np.sum(RNG.uniform(0.01, 3.0, size=(K, T)), axis=1)
    inp = {"scores": fl(s), "loglik": fl(ll)}
    add(name, "ragMarginal", inp, rag_fn(fl(ll)))


# ---------------------------------------------------------------- 9. InfoNCE (2-D scores)
def infonce_fn(positive, tau):
    pos = torch.tensor(positive, dtype=torch.long)

    def f(s):
        lsm = F.log_softmax(s / tau, dim=1)
        return -lsm.gather(1, pos[:, None]).squeeze(1).mean()

    return f


for name, B, C, tau, tie in [("infoNce_B2_C3_tau1", 2, 3, 1.0, False),
                             ("infoNce_B3_C5_tau0.05_scoreTie", 3, 5, 0.05, True),
                             ("infoNce_B4_C8_tau0.5", 4, 8, 0.5, False)]:
    s = scores_n(B, C)
    positive = [int(x) for x in RNG.integers(0, C, size=B)]
    if tie:
        other = (positive[1] + 1) % C
        s[1, other] = s[1, positive[1]]  # positive tied with a negative
    inp = {"scores": fl(s), "positive": positive, "tau": tau}
    add(name, "infoNce", inp, infonce_fn(positive, tau))


# ---------------------------------------------------------------- 10. llmRank with a margin (llmRankMargin)
# Pairs whose NLLs differ by less than the margin are left out of the sum and of the 1 + #pairs
# count. Drawn last so the cases above keep their inputs.
def llm_rank_margin_fn(sampled, nll, margin):
    idx = torch.tensor(sampled, dtype=torch.long)

    def f(s):
        sp = minmax(s)[idx]
        terms = []
        for a in range(len(sampled)):
            for b in range(a + 1, len(sampled)):
                if abs(nll[b] - nll[a]) < margin:
                    continue
                y = torch.tensor(1.0 if nll[b] > nll[a] else 0.0)
                terms.append(F.binary_cross_entropy_with_logits(sp[a] - sp[b], y))
        return torch.stack(terms).sum() / (1 + len(terms))

    return f


s = scores_n(12)
sampled = sample_idx(12, 6)
nll = nll_u(6)
nll[2] = nll[0] + 0.05  # inside the margin: left out
nll[4] = nll[1] - 0.3   # outside it: kept
inp = {"scores": fl(s), "sampled": sampled, "nll": fl(nll), "margin": 0.1}
add("llmRank_K12_n6_margin0.1", "llmRank", inp, llm_rank_margin_fn(sampled, fl(nll), 0.1))


os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as fh:
    json.dump({"cases": CASES}, fh, indent=1, allow_nan=False)
    fh.write("\n")
print(f"wrote {os.path.normpath(OUT)}: {len(CASES)} cases, {os.path.getsize(OUT)} bytes")

"""Every retriever loss of JMLR and its peers, with its gradient on the raw scores (src/training/losses.ts).

Owns: LLM-Rank (JMLR code: BCE over sampled pairs of min-max scaled scores, / (1 + #pairs)),
listwise KL, JOMED KL (label subset, prior, zero weight), Atlas PDist and LOOP, EMDR2, REPLUG LSR,
RAG-sequence marginal, InfoNCE. They act on K <= 100 scores per question in float64 on the CPU,
as the browser does; the step feeds the gradient into autograd as the scores' upstream gradient.
Formulas: ../shared/design/methods.md. Checked against test/goldens/losses.json (PyTorch autograd).
"""

from __future__ import annotations

import math


def log_softmax(x, tau: float = 1.0) -> list:
    m = max(v / tau for v in x)
    z = sum(math.exp(v / tau - m) for v in x)
    lz = m + math.log(z)
    return [v / tau - lz for v in x]


def softmax(x, tau: float = 1.0) -> list:
    return [math.exp(v) for v in log_softmax(x, tau)]


def _log_sum_exp(x) -> float:
    m = max(x)
    if m == -math.inf:
        return -math.inf
    return m + math.log(sum(math.exp(v - m) for v in x))


def kl_to_scores(s, target, tau: float):
    """KL(T || softmax(s / tau)), T fixed; d/ds_i = (softmax(s/tau)_i - T_i) / tau."""
    log_q = log_softmax(s, tau)
    loss = 0.0
    for i in range(len(s)):
        if target[i] > 0:
            loss += target[i] * (math.log(target[i]) - log_q[i])
    grad = [(math.exp(lq) - target[i]) / tau for i, lq in enumerate(log_q)]
    return loss, grad


def min_max_scale(s):
    """JMLR code's scaling to [-1, 1], and the vector-Jacobian product back to the raw scores."""
    K = len(s)
    lo = hi = 0
    for i in range(1, K):
        if s[i] < s[lo]:
            lo = i
        if s[i] > s[hi]:
            hi = i
    mn, rng = s[lo], s[hi] - s[lo]
    if not rng > 0:
        return [0.0] * K, (lambda g: [0.0] * K)
    scaled = [(2 * (v - mn)) / rng - 1 for v in s]

    def backward(g):
        out = [(2 * gk) / rng for gk in g]
        d_min = d_max = 0.0
        for k in range(K):
            u = (s[k] - mn) / rng
            d_min += g[k] * ((-2 / rng) * (1 - u))
            d_max += g[k] * ((-2 / rng) * u)
        out[lo] += d_min
        out[hi] += d_max
        return out

    return scaled, backward


def _softplus(x: float) -> float:
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def llm_rank_loss(scores, sampled, nll, margin=0.0):
    scaled, backward = min_max_scale(scores)
    pairs = []
    for a in range(len(sampled)):
        for b in range(a + 1, len(sampled)):
            if margin > 0 and abs(nll[b] - nll[a]) < margin:
                continue  # no preference: the pair would train on noise (llmRankMargin)
            x = scaled[sampled[a]] - scaled[sampled[b]]
            y = 1 if nll[b] > nll[a] else 0
            pairs.append((sampled[a], sampled[b], x, y, _softplus(x) - y * x))
    g = [0.0] * len(scores)
    loss = 0.0
    for a, b, x, y, bce in pairs:
        loss += bce
        d = (_sigmoid(x) - y) / (1 + len(pairs))
        g[a] += d
        g[b] -= d
    return loss / (1 + len(pairs)), backward(g)


def listwise_loss(scores, sampled, nll, tau_s=1.0, tau_g=1.0):
    scaled, backward = min_max_scale(scores)
    sub = [scaled[i] for i in sampled]
    target = softmax([-v for v in nll], tau_g)
    loss, gs = kl_to_scores(sub, target, tau_s)
    g = [0.0] * len(scores)
    for a, i in enumerate(sampled):
        g[i] += gs[a]
    return loss, backward(g)


def jomed_gold(label_logits, gold: int):
    def argmax(r):
        b = 0
        for j in range(1, len(r)):
            if r[j] > r[b]:
                b = j
        return b

    g = [log_softmax(row)[gold] for row in label_logits]
    first = argmax(label_logits[0])
    weight = 0 if all(argmax(r) == first for r in label_logits) else 1
    return g, weight


def jomed_loss(scores, g, tau_s=1.0, tau_g=1.0, prior=False):
    gp = list(g)
    if prior:
        lg, ls = log_softmax(g), log_softmax(scores)
        gp = [v + ls[i] for i, v in enumerate(lg)]
    return kl_to_scores(scores, softmax(gp, tau_g), tau_s)


def pdist_loss(scores, nll_mean, tau=0.1):
    return kl_to_scores(scores, softmax([-v for v in nll_mean], tau), tau)


def loop_loss(scores, nll_without, tau=0.1):
    return kl_to_scores(scores, softmax(nll_without, tau), tau)


def replug_loss(scores, loglik, tau_s=1.0, tau_g=1.0):
    return kl_to_scores(scores, softmax(loglik, tau_g), tau_s)


def emdr2_loss(scores, token_log_probs):
    log_pi = log_softmax(scores)
    K, T = len(scores), len(token_log_probs[0])
    grad = [0.0] * K
    loss = 0.0
    for t in range(T):
        joint = [lp + token_log_probs[i][t] for i, lp in enumerate(log_pi)]
        lz = _log_sum_exp(joint)
        loss -= lz
        for k in range(K):
            grad[k] -= math.exp(joint[k] - lz) - math.exp(log_pi[k])
    return loss, grad


def rag_marginal_loss(scores, loglik):
    return emdr2_loss(scores, [[v] for v in loglik])


def info_nce_loss(scores, B: int, C: int, positive, tau=1.0):
    """Over a [B, C] grid, row b's positive at positive[b]: mean_b -log softmax(s_b / tau)[pos_b]."""
    grad = [0.0] * (B * C)
    loss = 0.0
    for b in range(B):
        ls = log_softmax(scores[b * C : (b + 1) * C], tau)
        loss -= ls[positive[b]]
        for c in range(C):
            grad[b * C + c] = (math.exp(ls[c]) - (1 if c == positive[b] else 0)) / (tau * B)
    return loss / B, grad

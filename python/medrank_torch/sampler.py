"""JMLR's document sampler (src/training/sampler.ts): n documents drawn without replacement from
softmax(s'/T) of the min-max scaled scores, each draw renormalising over what is left, with the
run's Mulberry32 stream, so one seed gives the browser's draws. K = candidates, n = drawn.
"""

from __future__ import annotations

from .losses import min_max_scale, softmax


def sampling_probs(scores, temperature: float = 1.0) -> list:
    if not temperature > 0:
        raise ValueError(f"sampling temperature must be positive, got {temperature}")
    return softmax(min_max_scale(scores)[0], temperature)


def draw_without_replacement(probs, n: int, rand) -> list:
    K = len(probs)
    if n < 1 or n > K:
        raise ValueError(f"cannot draw {n} of {K} candidates")
    w = [float(p) for p in probs]
    out = []
    for _ in range(n):
        total = 0.0
        for i in range(K):
            total += w[i]
        u = rand() * total
        pick = -1
        for i in range(K):
            if w[i] <= 0:
                continue
            pick = i
            u -= w[i]
            if u < 0:
                break
        if pick < 0:  # every remaining weight underflowed: the first left
            pick = next(i for i in range(K) if i not in out)
        out.append(pick)
        w[pick] = 0.0
    return out


def sample_documents(scores, n: int, rand, temperature: float = 1.0):
    probs = sampling_probs(scores, temperature)
    return probs, draw_without_replacement(probs, min(n, len(probs)), rand)


def top_indices(s, n: int) -> list:
    """Indices of the n largest values, best first (ties: lower index first)."""
    return sorted(range(len(s)), key=lambda i: (-s[i], i))[:n]

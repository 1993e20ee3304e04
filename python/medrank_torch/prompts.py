"""The generator's inputs rebuilt from the bundle's ids (src/training/prompts.ts PromptBuilder).

Owns: prompt = BOS + "context:" + documents + " question: q answer:" (or BOS + "question: q answer:"
with no documents), answers and options as the browser tokenized them, and nll_many: answer NLLs
of many examples without gradient, batched by a token budget in length order as the browser does.
"""

from __future__ import annotations

import numpy as np


class PromptBuilder:
    def __init__(self, bundle):
        self.b = bundle

    def prompt(self, q: int, docs) -> list:
        b = self.b
        if len(docs) == 0:
            return b.bos + b.question_nodoc[q]
        out = b.bos + b.context
        for d in docs:
            out += b.gen_docs[d]
        return out + b.question[q]

    def answer(self, q: int) -> list:
        return self.b.answer[q]

    def example(self, q: int, docs) -> tuple:
        return (self.prompt(q, docs), self.answer(q))


def nll_many(generator, examples: list, tokens: int = 4096):
    """(sum, mean) float64 arrays and per-token float32 arrays of each example's answer NLL, in input order."""
    n = len(examples)
    s, m = np.zeros(n), np.zeros(n)
    per = [None] * n
    length = [len(p) + len(a) for p, a in examples]
    order = sorted(range(n), key=lambda i: length[i])  # stable, as Array.prototype.sort
    at = 0
    while at < n:
        end = at + 1
        while end < n and (end + 1 - at) * length[order[end]] <= tokens:
            end += 1
        batch = order[at:end]
        r_sum, r_mean, r_per = generator.answer_nll([examples[i] for i in batch])
        for j, i in enumerate(batch):
            s[i], m[i], per[i] = r_sum[j], r_mean[j], r_per[j]
        at = end
    return s, m, per

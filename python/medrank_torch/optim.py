"""AdamW exactly as MedRank's kernel computes it (kernels/adamw_step.wgsl, src/tensor/optim/adamw.ts).

Owns: decoupled weight decay, bias correction with one step count per optimizer (the browser's
`t`, not PyTorch's per-parameter count), the global-norm clip over this optimizer's gradients
(clip = max / (norm + 1e-6) when norm > max), parameters without a gradient skipped, and the
state a checkpoint keeps.
"""

from __future__ import annotations

import math

import torch


class AdamW:
    def __init__(self, params: list, lr: float, weight_decay: float = 0.0, max_grad_norm: float = 0.0,
                 betas=(0.9, 0.999), eps: float = 1e-8):
        self.params = list(params)
        self.lr, self.wd, self.max_norm = lr, weight_decay, max_grad_norm
        self.b1, self.b2 = betas
        self.eps = eps
        self.t = 0
        self.state: dict = {}

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def grad_norm(self) -> float:
        total = 0.0
        for p in self.params:
            if p.grad is not None:
                total += float(p.grad.double().pow(2).sum())
        return math.sqrt(total)

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        norm = self.grad_norm()
        clip = self.max_norm / (norm + 1e-6) if self.max_norm > 0 and norm > self.max_norm else 1.0
        bc1, bc2 = 1 - self.b1**self.t, 1 - self.b2**self.t
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            m, v = self.state.setdefault(i, (torch.zeros_like(p), torch.zeros_like(p)))
            g = p.grad * clip
            m.mul_(self.b1).add_(g, alpha=1 - self.b1)
            v.mul_(self.b2).addcmul_(g, g, value=1 - self.b2)
            update = (m / bc1) / ((v / bc2).sqrt() + self.eps)
            p.mul_(1 - self.lr * self.wd).sub_(update * self.lr)

    def save_state(self) -> dict:
        return {"t": self.t, "moments": [
            None if i not in self.state else {"m": self.state[i][0].cpu().clone(), "v": self.state[i][1].cpu().clone()}
            for i in range(len(self.params))
        ]}

    def load_state(self, s: dict) -> None:
        self.t = int(s["t"])
        self.state = {}
        for i, mv in enumerate(s["moments"]):
            if mv is not None:
                p = self.params[i]
                self.state[i] = (mv["m"].to(p.device).reshape(p.shape).clone(), mv["v"].to(p.device).reshape(p.shape).clone())

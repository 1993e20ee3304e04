"""LoRA with PEFT's names and the browser's initialisation (src/models/lora.ts).

Owns: LoraLinear, a linear layer with its checkpoint name, optional bias and optional adapter:
y = x W^T + b + (alpha / r) * (dropout(x) A^T) B^T, parameters `weight`, `bias`, `lora_A` [r, in]
and `lora_B` [out, r] (so a module at `model.layers.0.self_attn.q_proj` names its adapter
`model.layers.0.self_attn.q_proj.lora_A`, as PEFT and Linear's tensors do); attach_lora, which
draws every A from ONE Mulberry32(seed) stream over the model's linears in their order
(U(-1/sqrt(in), 1/sqrt(in)), B zero) and refuses unknown target modules; mulberry32_draws, the
same draws as rng.mulberry32, vectorised. The LoRA dropout (input only, while training) takes the
forward's next seed exactly where Linear.forward does.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .model_config import ModelConfigError
from .rng import ForwardContext, ctx_dropout

_EVAL = ForwardContext(False)


def mulberry32_draws(seed: int, n: int, start: int = 0) -> np.ndarray:
    """Draws start .. start+n-1 of mulberry32(seed) as float64 [n]: each is a function of its
    counter state seed + (k + 1) * 0x6D2B79F5 alone, so they vectorise."""
    with np.errstate(over="ignore"):
        k = np.arange(start + 1, start + n + 1, dtype=np.uint64)
        a = ((np.uint64(seed & 0xFFFFFFFF) + k * np.uint64(0x6D2B79F5)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        t = (a ^ (a >> np.uint32(15))) * (a | np.uint32(1))
        t = t ^ (t + (t ^ (t >> np.uint32(7))) * (t | np.uint32(61)))
        return (t ^ (t >> np.uint32(14))).astype(np.float64) / 4294967296.0


def check_lora_config(c: dict) -> dict:
    """{r, alpha, dropout, target_modules} of a LoRA config (camelCase targetModules accepted), checked as checkLoraConfig."""
    targets = c.get("targetModules", c.get("target_modules"))
    r, alpha, dropout = c.get("r"), c.get("alpha"), c.get("dropout", 0)
    if isinstance(r, bool) or not isinstance(r, (int, float)) or not float(r).is_integer() or r < 1:
        raise ModelConfigError(f"LoRA rank r must be a positive integer, got {r}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha > 0:
        raise ModelConfigError(f"LoRA alpha must be positive, got {alpha}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not (0 <= dropout < 1):
        raise ModelConfigError(f"LoRA dropout must be in [0, 1), got {dropout}")
    if not targets:
        raise ModelConfigError("LoRA needs at least one target module (e.g. q_proj, v_proj)")
    return {"r": int(r), "alpha": alpha, "dropout": dropout, "target_modules": list(targets)}


class LoraLinear(nn.Module):
    """A checkpoint linear layer (weight [out, in], optional bias) with an optional LoRA adapter."""

    def __init__(self, name: str, weight: torch.Tensor, bias: torch.Tensor | None = None):
        super().__init__()
        self.name = name
        self.weight = nn.Parameter(weight, requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(bias, requires_grad=False)
        self.register_parameter("lora_A", None)
        self.register_parameter("lora_B", None)
        self.scaling = 0.0
        self.lora_dropout = 0.0

    @property
    def module_name(self) -> str:
        """The name PEFT matches target_modules against (the last component)."""
        return self.name.split(".")[-1]

    @property
    def in_features(self) -> int:
        return self.weight.shape[1]

    @property
    def out_features(self) -> int:
        return self.weight.shape[0]

    @property
    def A(self):
        return self.lora_A

    @property
    def B(self):
        return self.lora_B

    def set_lora(self, A: torch.Tensor, r: int, alpha: float, dropout: float) -> None:
        """A fresh adapter from A [r, in] (B zero); replaces any previous one."""
        dev = self.weight.device
        self.lora_A = nn.Parameter(A.to(device=dev, dtype=torch.float32))
        self.lora_B = nn.Parameter(torch.zeros(self.out_features, r, device=dev))
        self.scaling = alpha / r
        self.lora_dropout = dropout

    def remove_lora(self) -> None:
        self.lora_A = None
        self.lora_B = None

    def forward(self, x: torch.Tensor, ctx: ForwardContext | None = None) -> torch.Tensor:
        y = F.linear(x, self.weight, self.bias)
        if self.lora_A is None:
            return y
        xin = ctx_dropout(x, self.lora_dropout, ctx or _EVAL)
        return y + F.linear(F.linear(xin, self.lora_A), self.lora_B) * self.scaling

    def extra_repr(self) -> str:
        r = "" if self.lora_A is None else f", lora r={self.lora_A.shape[0]}"
        return f"{self.name}: in={self.in_features}, out={self.out_features}, bias={self.bias is not None}{r}"


def attach_lora(linears: list, cfg: dict, seed: int) -> list:
    """Fresh adapters (seeded) on the linears whose module name is in the config's target modules,
    in the linears' order, all A from one mulberry32(seed) stream. Returns the adapted LoraLinears
    (each with .A / .B, i.e. .lora_A / .lora_B). Unknown targets are refused, naming the modules."""
    c = check_lora_config(cfg)
    have = list(dict.fromkeys(l.module_name for l in linears))
    unknown = [t for t in c["target_modules"] if t not in have]
    if unknown:
        raise ModelConfigError(
            f"LoRA target module(s) {', '.join(unknown)} match no layer; this model's linear modules are {', '.join(have)}"
        )
    out, at = [], 0
    for l in linears:
        if l.module_name not in c["target_modules"]:
            continue
        n = c["r"] * l.in_features
        bound = 1 / math.sqrt(l.in_features)
        a = ((2 * mulberry32_draws(seed, n, at) - 1) * bound).astype(np.float32)
        at += n
        l.set_lora(torch.from_numpy(a.reshape(c["r"], l.in_features)), c["r"], c["alpha"], c["dropout"])
        out.append(l)
    return out

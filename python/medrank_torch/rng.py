"""Every random draw MedRank makes, bit for bit as the browser makes it.

Owns: Mulberry32 (src/tensor/random.ts), the per-step seed stream stepSeed (src/training/step.ts),
the per-forward dropout seed counter ForwardContext (src/models/lora.ts) and the counter-based
dropout mask of kernels/dropout_forward.wgsl (hash = pcg(pcg(i) ^ pcg(seed ^ 0x9e3779b9))).
All arithmetic is modulo 2^32 on unsigned values, which is what JavaScript's Math.imul, ^ and >>> 0
compute once their results are read back as uint32.
"""

from __future__ import annotations

import math

import numpy as np
import torch

M32 = 0xFFFFFFFF


def _imul(a: int, b: int) -> int:
    return ((a & M32) * (b & M32)) & M32


def mulberry32(seed: int):
    """A seeded generator of uniform floats in [0, 1): the same sequence as src/tensor/random.ts."""
    state = [seed & M32]

    def rand() -> float:
        state[0] = (state[0] + 0x6D2B79F5) & M32
        t = state[0]
        t = _imul(t ^ (t >> 15), t | 1)
        t = (t ^ ((t + _imul(t ^ (t >> 7), t | 61)) & M32)) & M32
        return ((t ^ (t >> 14)) & M32) / 4294967296.0

    return rand


def step_seed(seed: int, step: int, salt: int = 0) -> int:
    """stepSeed(seed, step, salt): step t of a run with seed s always draws the same numbers."""
    return (_imul(seed ^ 0x9E3779B9, 0x85EBCA6B) + _imul(step + 1, 0xC2B2AE35) + salt * 0x27D4EB2F) & M32


class ForwardContext:
    """Per-forward state: the training flag (dropout on) and the seeded counter of dropout seeds."""

    def __init__(self, training: bool, seed: int = 0, row_offset: int = 0):
        self.training = training
        self.seed = seed
        self.counter = 0
        # Rows of the global batch before this process's first row (a rank of a distributed run):
        # a dropout on a [B_local, ...] tensor then draws the mask of its rows of the global tensor.
        self.row_offset = row_offset

    def next_seed(self) -> int:
        self.counter += 1
        return (self.seed * 1000003 + self.counter * 7919) & M32


def _pcg(v: np.ndarray) -> np.ndarray:
    state = v * np.uint32(747796405) + np.uint32(2891336453)
    word = ((state >> ((state >> np.uint32(28)) + np.uint32(4))) ^ state) * np.uint32(277803737)
    return (word >> np.uint32(22)) ^ word


def dropout_keep(seed: int, n: int, offset: int = 0) -> np.ndarray:
    """The keep-hash of elements offset .. offset+n-1 of a dropout with this seed (uint32 [n])."""
    with np.errstate(over="ignore"):
        i = np.arange(offset, offset + n, dtype=np.uint64).astype(np.uint32)
        s = _pcg(np.array([(seed ^ 0x9E3779B9) & M32], dtype=np.uint32))
        return _pcg(_pcg(i) ^ s)


def _pcg_t(v: torch.Tensor) -> torch.Tensor:
    """pcg on int64 tensors holding uint32 values (products stay below 2^63), on any device."""
    state = (v * 747796405 + 2891336453) & M32
    word = (((state >> ((state >> 28) + 4)) ^ state) * 277803737) & M32
    return ((word >> 22) ^ word) & M32


def dropout_mask(seed: int, shape, p: float, offset: int = 0, device="cpu") -> torch.Tensor:
    """The scaled keep mask (0 or 1/(1-p) in float32) of a contiguous tensor of `shape`, made on `device`."""
    n = int(np.prod(shape)) if len(shape) else 1
    threshold = min(math.floor(p * 2**32), 2**32 - 1)
    i = torch.arange(offset, offset + n, dtype=torch.int64, device=device) & M32
    s = int(_pcg(np.array([(seed ^ 0x9E3779B9) & M32], dtype=np.uint32))[0])
    keep = _pcg_t(_pcg_t(i) ^ s) >= threshold
    scale = float(np.float32(1.0 / (1.0 - p)))  # the kernel's f32 uniform
    return (keep.to(torch.float32) * scale).reshape(shape)


def dropout(x: torch.Tensor, p: float, seed: int, offset: int = 0) -> torch.Tensor:
    """Inverted dropout with the browser's mask: element i (row-major) kept iff hash(seed, i) >= p 2^32.

    `offset` is the flat index of x's first element in the tensor the browser would have dropped
    (a rank of a distributed run holds rows of the global batch)."""
    if p == 0:
        return x
    return x * dropout_mask(seed, tuple(x.shape), p, offset, x.device)


def ctx_dropout(x: torch.Tensor, p: float, ctx: ForwardContext) -> torch.Tensor:
    """Dropout as the browser's models call it: only while training, p > 0, the next seed of ctx."""
    if not ctx.training or p <= 0:
        return x
    per_row = int(np.prod(x.shape[1:])) if x.dim() > 1 else 1
    return dropout(x, p, ctx.next_seed(), ctx.row_offset * per_row)

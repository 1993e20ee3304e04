"""The process group a run lives in: one process, or torchrun's ranks (gloo on CPUs, NCCL on GPUs).

Owns: rank and world size, this rank's share of a list (contiguous rows of the global batch), and
the few collectives the step needs (all_gather of Python objects, sums), all torch.distributed.
With one process every collective is the identity, so the step reads the same either way.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as td


class Dist:
    def __init__(self, device: str = "cpu"):
        self.enabled = "RANK" in os.environ and "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1
        if self.enabled and not td.is_initialized():
            td.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
        self.rank = td.get_rank() if self.enabled else 0
        self.world = td.get_world_size() if self.enabled else 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def share(self, n: int, rank: int | None = None) -> tuple[int, int]:
        """Rows [a, b) of n that a rank takes (contiguous; ranks differ by at most one row)."""
        r = self.rank if rank is None else rank
        return (r * n) // self.world, ((r + 1) * n) // self.world

    def gather(self, obj) -> list:
        """Every rank's obj, in rank order."""
        if not self.enabled:
            return [obj]
        out = [None] * self.world
        td.all_gather_object(out, obj)
        return out

    def sum(self, x: float) -> float:
        if not self.enabled:
            return x
        return float(sum(self.gather(float(x))))

    def close(self) -> None:
        if self.enabled and td.is_initialized():
            td.destroy_process_group()


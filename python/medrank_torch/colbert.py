"""The ColBERT retriever (src/models/colbert.ts) on ids the bundle already holds.

Owns: ColbertRetriever, an nn.Module of the BERT encoder and the projection `linear.weight`
[dim, D] (no bias; drawn from mulberry32(seed) as U(-1/sqrt D, 1/sqrt D) row-major when the
checkpoint lacks it, as ColbertRetriever.load does), each token's vector the L2-normalised
projection of its hidden state. encode_queries; encode_docs (right-padded with the config's pad
id, kept rows gathered BEFORE the projection, packed with offsets); score (MaxSim); which weights
train (configure_training). One ForwardContext passed to the queries and then the documents
shares its seed counter, as the browser's step does.
B = queries or documents, T = tokens, D = hidden size, dim = ColBERT dim, Lq = query length.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .bert import BertEncoder, Tensors, bert_specs
from .checkpoint import prefix_of, read_folder, verify
from .lora import attach_lora, mulberry32_draws
from .maxsim import maxsim
from .model_config import BertConfig, ModelConfigError, UnsupportedArchitectureError, parse_config
from .rng import ForwardContext

MODES = ("projection", "lora", "full")


def _ints(x) -> list:
    return [int(v) for v in (x.tolist() if isinstance(x, (torch.Tensor, np.ndarray)) else x)]


class ColbertRetriever(nn.Module):
    def __init__(self, config: BertConfig, tensors: dict, seed: int = 0):
        super().__init__()
        self.config = config
        prefix = prefix_of(tensors, "embeddings.word_embeddings.weight") or ""
        has_head = "linear.weight" in tensors
        head_spec = ("linear.weight", [config.colbert_dim, config.hidden_size])
        verify(tensors, bert_specs(config, prefix) + ([head_spec] if has_head else []), "the BERT encoder")
        self.bert = BertEncoder(config, tensors, prefix)
        if has_head:
            head = tensors["linear.weight"].to(torch.float32)
        else:
            n, D = config.colbert_dim * config.hidden_size, config.hidden_size
            init = ((2 * mulberry32_draws(seed, n) - 1) * (1 / math.sqrt(D))).astype(np.float32)
            head = torch.from_numpy(init.reshape(config.colbert_dim, D))
        self.linear = Tensors(head)

    @staticmethod
    def load(folder, seed: int = 0, device="cpu") -> "ColbertRetriever":
        """From a Hugging Face folder: colbert-ir style (linear.weight present) or a plain BERT checkpoint."""
        raw, tensors = read_folder(folder)
        c = parse_config(raw)
        if not isinstance(c, BertConfig):
            raise UnsupportedArchitectureError(
                f"{folder} is a {c.family} decoder; the ColBERT retriever needs a BERT checkpoint (model_type bert)"
            )
        return ColbertRetriever(c, tensors, seed).to(device)

    @property
    def dim(self) -> int:
        return self.linear.weight.shape[0]

    @property
    def device(self) -> torch.device:
        return self.linear.weight.device

    def param_names(self) -> dict:
        """{parameter: its checkpoint / PEFT name} ('bert.' stands for the checkpoint's own prefix)."""
        p = self.bert.prefix
        out = {t: p + n for n, t in self.bert.named_parameters()}
        out[self.linear.weight] = "linear.weight"
        return out

    def configure_training(self, mode: str, lora: dict | None = None, seed: int = 0) -> list:
        """'projection' (the head), 'lora' (the head plus adapters on lora's target modules, seeded)
        or 'full' (every weight). Everything else is frozen; returns the trainable parameters, base
        weights in checkpoint order then each adapter's A and B."""
        if mode not in MODES:
            raise ModelConfigError(f"retriever training mode must be one of {', '.join(MODES)}, got {mode!r}")
        if mode == "lora" and not lora:
            raise ModelConfigError("retriever training mode 'lora' needs a LoRA config (r, alpha, dropout, targetModules)")
        for l in self.bert.linears():  # a new configuration replaces the old one
            l.remove_lora()
        params = []
        for p in [*self.bert.parameters(), self.linear.weight]:
            p.requires_grad_(mode == "full" or p is self.linear.weight)
            if p.requires_grad:
                params.append(p)
        if mode != "lora":
            return params
        adapters = attach_lora(self.bert.linears(), lora, seed)
        return params + [p for a in adapters for p in (a.lora_A, a.lora_B)]

    def project(self, hidden: torch.Tensor) -> torch.Tensor:
        """Per-token ColBERT vectors: the L2-normalised projection (x / max(|x|, 1e-12)). [..., dim]"""
        return F.normalize(F.linear(hidden, self.linear.weight), p=2.0, dim=-1, eps=1e-12)

    def encode_queries(self, ids, mask, ctx: ForwardContext | None = None) -> torch.Tensor:
        """Query vectors [B, Lq, dim] of ids [B, Lq] ([MASK]-augmented) with their attention mask."""
        return self.project(self.bert(ids, mask, ctx))

    def pack_docs(self, docs: list, T: int | None = None):
        """(ids [B, T], mask [B, T], kept rows of the flat [B*T] positions, offsets [B+1]) of (ids, keep) pairs."""
        seqs = [(_ints(i), _ints(k)) for i, k in docs]
        if not seqs:
            raise ModelConfigError("encode_docs: no documents given")
        for n, (i, k) in enumerate(seqs):
            if len(i) != len(k):
                raise ModelConfigError(f"encode_docs: document {n} has {len(i)} ids but {len(k)} keep flags")
        longest = max(1, *(len(i) for i, _ in seqs))
        T = longest if T is None else int(T)
        if T < longest:
            raise ModelConfigError(f"encode_docs: T = {T} is shorter than the longest document ({longest} tokens)")
        B = len(seqs)
        ids = torch.full((B, T), self.config.pad_token_id, dtype=torch.long)
        mask = torch.zeros(B, T)
        rows, offsets = [], [0]
        for b, (i, k) in enumerate(seqs):
            ids[b, : len(i)] = torch.tensor(i, dtype=torch.long)
            mask[b, : len(i)] = 1
            rows += [b * T + t for t, keep in enumerate(k) if keep]
            offsets.append(len(rows))
        return ids, mask, torch.tensor(rows, dtype=torch.long), torch.tensor(offsets, dtype=torch.long)

    def encode_docs(self, docs: list, ctx: ForwardContext | None = None, T: int | None = None):
        """(vectors [total_kept, dim], offsets LongTensor [N + 1] on the CPU) of documents given as
        (ids, keep) pairs, right-padded to T (given, or the longest). Punctuation (keep 0) is dropped."""
        ids, mask, rows, offsets = self.pack_docs(docs, T)
        hidden = self.bert(ids, mask, ctx)
        B, T, D = hidden.shape
        kept = hidden.reshape(B * T, D)[rows.to(hidden.device)]  # gathered first: padding is never projected
        return self.project(kept), offsets

    def score(self, q: torch.Tensor, vectors: torch.Tensor, offsets) -> torch.Tensor:
        """MaxSim [B, N] of query vectors against packed document vectors (every query token counts)."""
        return maxsim(q, vectors, offsets)

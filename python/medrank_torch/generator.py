"""The generator (src/models/generator.ts) on token ids: answer NLLs and the generator's training loss.

Owns: Generator, an nn.Module laid out like HF's *ForCausalLM (`model` = LlamaModel, `lm_head`
unless tied), so named_parameters() gives checkpoint and PEFT names
(model.layers.0.self_attn.q_proj.lora_A); configure_training (Generator.configureTraining's rules);
answer_tokens (prompt + answer right-padded by pad_batch, the hidden state before each answer token,
row b*T + P-1+j, gathered BEFORE the LM head, per-token cross-entropy); forward, the mean answer-token
NLL (meanAnswerLoss); answer_nll, the no-grad
utility with the browser's rounding (per-token f32, each sum accumulated in float64 then stored as
f32, mean = f32(f32 sum / count)); label_logits (JOMED's label subset).
B = examples, T = padded tokens, D = hidden size, V = vocab, N = answer tokens in the batch.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .bert import Tensors
from .checkpoint import read_folder, verify
from .llama import FULL_ATTENTION, LlamaInputError, LlamaModel, llama_specs, pad_batch
from .lora import attach_lora
from .model_config import LlamaConfig, ModelConfigError, UnsupportedArchitectureError, parse_config
from .rng import ForwardContext


def _ids(x) -> list:
    return [int(v) for v in (x.tolist() if isinstance(x, (torch.Tensor, np.ndarray)) else x)]


class Generator(nn.Module):
    def __init__(self, config: LlamaConfig, tensors: dict, pad_id: int | None = None):
        super().__init__()
        self.config = config
        verify(tensors, llama_specs(config), f"the {config.family} generator")
        self.model = LlamaModel(config, tensors)
        if not config.tie_word_embeddings:
            self.lm_head = Tensors(tensors["lm_head.weight"].to(torch.float32))
        eos = config.eos_token_ids[0] if config.eos_token_ids else None
        # padIdOf: the bundle's (the tokenizer's) pad, else the config's, else EOS; padding is never attended.
        self.pad_id = next((int(p) for p in (pad_id, config.pad_token_id, eos) if p is not None), 0)

    @staticmethod
    def load(folder, pad_id: int | None = None, device="cpu") -> "Generator":
        raw, tensors = read_folder(folder)
        c = parse_config(raw)
        if not isinstance(c, LlamaConfig):
            raise UnsupportedArchitectureError(
                f"{folder} is a BERT encoder; the generator needs a Llama-family decoder (llama, qwen2, mistral)"
            )
        return Generator(c, tensors, pad_id).to(device)

    @property
    def head(self) -> torch.Tensor:
        """The LM head [V, D]: lm_head.weight, or the embedding table when tied."""
        return self.model.embed_tokens.weight if self.config.tie_word_embeddings else self.lm_head.weight

    def linears(self) -> list:
        return self.model.linears()

    def param_names(self) -> dict:
        """{parameter: checkpoint / PEFT name}; the same names named_parameters() gives."""
        return {p: n for n, p in self.named_parameters()}

    def configure_training(self, lora: dict | None = None, embeddings: bool = False, norms: bool = False,
                           seed: int = 0, full: bool = False) -> list:
        """What trains: LoRA adapters (seeded) when given, plus the embedding table and an untied LM
        head when `embeddings`, the RMSNorm weights (names ending norm.weight) when `norms`, or every
        weight with `full`. Everything else is frozen; returns base weights in checkpoint order, then
        each adapter's A and B."""
        if full and lora:
            raise ModelConfigError("full training and LoRA together: LoRA on layers that train in full adds nothing; choose one")
        for l in self.linears():
            l.remove_lora()
        named = dict(self.named_parameters())

        def trains(n: str) -> bool:
            return full or (embeddings and n in ("model.embed_tokens.weight", "lm_head.weight")) or (norms and n.endswith("norm.weight"))

        for n, p in named.items():
            p.requires_grad_(trains(n))
        params = [named[n] for n, _ in llama_specs(self.config) if trains(n)]
        adapters = attach_lora(self.linears(), lora, seed) if lora else []
        out = params + [p for a in adapters for p in (a.lora_A, a.lora_B)]
        if not out:
            raise ModelConfigError("nothing would train: give LoRA, embeddings, norms or full")
        return out

    def _check(self, seqs: list) -> None:
        V = self.config.vocab_size
        for i, s in enumerate(seqs):
            bad = next((t for t in s if not 0 <= t < V), None)
            if bad is not None:
                raise LlamaInputError(f"token id {bad} in sequence {i} is outside the vocabulary of {V}")

    def answer_tokens(self, examples: list, ctx: ForwardContext | None = None, attention=None, T: int | None = None):
        """(token_nll [N] differentiable, offsets LongTensor [B + 1] on the CPU): example b owns
        token_nll[offsets[b]:offsets[b+1]], the NLL of each answer token given everything before it."""
        exs = [(_ids(p), _ids(a)) for p, a in examples]
        for i, (p, a) in enumerate(exs):
            if not p or not a:
                raise LlamaInputError(
                    f"generator: example {i} needs a non-empty prompt and answer (got {len(p)} and {len(a)} tokens)"
                )
        seqs = [p + a for p, a in exs]
        self._check(seqs)
        attention = FULL_ATTENTION if attention is None else attention
        ids = pad_batch(seqs, attention, self.pad_id, T)
        B, T = ids.shape
        hidden = self.model(ids, ctx, attention)
        rows, targets, offsets = [], [], [0]
        for b, (p, a) in enumerate(exs):
            rows += [b * T + len(p) - 1 + j for j in range(len(a))]
            targets += a
            offsets.append(len(rows))
        dev = hidden.device
        h = hidden.reshape(B * T, -1)[torch.tensor(rows, device=dev)]
        logits = F.linear(h, self.head)
        nll = F.cross_entropy(logits, torch.tensor(targets, device=dev), reduction="none")
        return nll, torch.tensor(offsets, dtype=torch.long)

    def forward(self, examples: list, ctx: ForwardContext | None = None, attention=None, T: int | None = None) -> torch.Tensor:
        """Mean NLL over every answer token of the batch (meanAnswerLoss): the generator's training loss."""
        return self.answer_tokens(examples, ctx, attention, T)[0].mean()

    @torch.no_grad()
    def answer_nll(self, examples: list, attention=None, T: int | None = None):
        """(sum, mean, per_token) without gradient at full attention (or the given one): per_token a list
        of float32 arrays; sum and mean float64 arrays holding exactly the browser's f32 values."""
        nll, offsets = self.answer_tokens(examples, ForwardContext(False), attention, T)
        all_ = nll.detach().to(torch.float32).cpu().numpy()
        o = offsets.tolist()
        per = [all_[o[b] : o[b + 1]].copy() for b in range(len(o) - 1)]
        sums, means = np.zeros(len(per)), np.zeros(len(per))
        for b, p in enumerate(per):
            s = 0.0
            for v in p.tolist():  # left to right in float64, as Array.reduce
                s += v
            sums[b] = float(np.float32(s))
            means[b] = float(np.float32(sums[b] / len(p)))
        return sums, means, per

    def label_logits(self, prompts: list, label_ids: list, ctx: ForwardContext | None = None, attention=None,
                     T: int | None = None) -> torch.Tensor:
        """Logits [B, L] of the next token after each prompt, restricted to label_ids (labelLogits)."""
        V = self.config.vocab_size
        labels = _ids(label_ids)
        for t in labels:
            if not 0 <= t < V:
                raise LlamaInputError(f"label token id {t} is outside the vocabulary of {V}")
        seqs = [_ids(p) for p in prompts]
        self._check(seqs)
        attention = FULL_ATTENTION if attention is None else attention
        ids = pad_batch(seqs, attention, self.pad_id, T)
        B, T = ids.shape
        hidden = self.model(ids, ctx, attention)
        dev = hidden.device
        h = hidden.reshape(B * T, -1)[torch.tensor([b * T + len(p) - 1 for b, p in enumerate(seqs)], device=dev)]
        return h @ self.head[torch.tensor(labels, device=dev)].t()

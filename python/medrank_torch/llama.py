"""Llama-family decoder (Llama, SmolLM, Mistral-style, Qwen2) as src/models/llama.ts runs it.

Owns: llama_specs (the tensors config.json implies: q/k/v biases for qwen2 or attention_bias, o_proj's
bias for llama's attention_bias only, mlp biases for mlp_bias, lm_head unless tied), pad_batch
(right padding, T rounded up to the S2-Attn groups: to `groups`, or 2 * groups when shifted), the
RoPE tables (f32 angles position * inv_freq, their cos/sin rounded to f32, as ropeTables), and
LlamaModel, an nn.Module laid out like HF's inner LlamaModel (embed_tokens, layers.{i}.self_attn.*,
layers.{i}.mlp.*, norm) whose forward gives the final hidden states: per layer
x + o(attn(rope(q), rope(k), v)) on RMSNorm(x), then x + down(silu(gate(h)) * up(h)) on RMSNorm(x),
S2-Attn while training when asked, full causal attention otherwise; inputs longer than
max_position_embeddings or an active sliding window are refused. LoRA dropout seeds are drawn in
llama.ts's order (q, k, v, o, gate, up, down per layer).
B = batch, T = tokens, D = hidden size, H = query heads, Hkv = kv heads, Dh = head dim, F = intermediate.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import attention as attend
from .bert import Node, Tensors
from .lora import LoraLinear
from .model_config import LlamaConfig, rope_inv_freq
from .rng import ForwardContext

FULL_ATTENTION = (1.0, "none")


class LlamaInputError(ValueError):
    """Inputs the decoder refuses (too long, empty, ids outside the vocabulary)."""


def llama_specs(c: LlamaConfig) -> list:
    """[(name, shape)] of the checkpoint's tensors, in llamaSpecs' order."""
    D, Fi, H, Hkv, Dh = c.hidden_size, c.intermediate_size, c.num_heads, c.num_kv_heads, c.head_dim
    s = [("model.embed_tokens.weight", [c.vocab_size, D])]
    for i in range(c.num_layers):
        l = f"model.layers.{i}."
        s += [
            (f"{l}self_attn.q_proj.weight", [H * Dh, D]),
            (f"{l}self_attn.k_proj.weight", [Hkv * Dh, D]),
            (f"{l}self_attn.v_proj.weight", [Hkv * Dh, D]),
            (f"{l}self_attn.o_proj.weight", [D, H * Dh]),
            (f"{l}mlp.gate_proj.weight", [Fi, D]),
            (f"{l}mlp.up_proj.weight", [Fi, D]),
            (f"{l}mlp.down_proj.weight", [D, Fi]),
            (f"{l}input_layernorm.weight", [D]),
            (f"{l}post_attention_layernorm.weight", [D]),
        ]
        if c.attention_bias:
            s += [(f"{l}self_attn.q_proj.bias", [H * Dh]), (f"{l}self_attn.k_proj.bias", [Hkv * Dh]),
                  (f"{l}self_attn.v_proj.bias", [Hkv * Dh])]
        if c.attention_bias and c.family == "llama":  # HF Llama's attention_bias covers o_proj; Qwen2's does not
            s.append((f"{l}self_attn.o_proj.bias", [D]))
        if c.mlp_bias:
            s += [(f"{l}mlp.gate_proj.bias", [Fi]), (f"{l}mlp.up_proj.bias", [Fi]), (f"{l}mlp.down_proj.bias", [D])]
    s.append(("model.norm.weight", [D]))
    if not c.tie_word_embeddings:
        s.append(("lm_head.weight", [c.vocab_size, D]))
    return s


def attention_mode(attention) -> tuple:
    """(ratio, shift) of None (full attention), a (ratio, shift) pair or {'ratio', 'shift'}."""
    if attention is None:
        return FULL_ATTENTION
    if isinstance(attention, dict):
        return float(attention.get("ratio", 1.0)), attention.get("shift", "roll")
    ratio, shift = attention
    return float(ratio), shift


def padded_length(lengths: list, attention=None) -> int:
    """padBatch's T: the longest length, rounded up to the groups S2-Attn needs."""
    ratio, shift = attention_mode(attention)
    T = max(lengths)
    if ratio < 1:
        groups = round(1 / ratio)
        need = groups if shift == "none" else 2 * groups
        T = math.ceil(T / need) * need
    return T


def pad_batch(seqs: list, attention, pad: int, T: int | None = None) -> torch.Tensor:
    """Right-padded ids [B, T] (LongTensor): T given, or padBatch's (see padded_length)."""
    if not seqs:
        raise LlamaInputError("an empty batch: give at least one sequence")
    for i, s in enumerate(seqs):
        if len(s) == 0:
            raise LlamaInputError(f"sequence {i} of the batch is empty; every sequence needs at least one token")
    need = padded_length([len(s) for s in seqs], attention)
    if T is None:
        T = need
    elif T < max(len(s) for s in seqs):
        raise LlamaInputError(f"pad_batch: T = {T} is shorter than the longest sequence ({max(len(s) for s in seqs)} tokens)")
    ids = torch.full((len(seqs), T), pad, dtype=torch.long)
    for b, s in enumerate(seqs):
        ids[b, : len(s)] = torch.as_tensor(list(s), dtype=torch.long)
    return ids


def rope_tables(c: LlamaConfig, T: int, device=None) -> tuple:
    """cos, sin [T, Dh/2] float32: f32 angles position * inv_freq, cos/sin taken in float64 and rounded."""
    inv = torch.from_numpy(rope_inv_freq(c)).to(device)
    angles = torch.arange(T, dtype=torch.float32, device=device)[:, None] * inv[None, :]
    a = angles.to(torch.float64)
    return a.cos().to(torch.float32), a.sin().to(torch.float32)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x [B, T, heads, Dh] rotated pairwise (i, i + Dh/2), HF's rotate_half convention."""
    half = x.shape[-1] // 2
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], dim=-1)


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


class LlamaModel(nn.Module):
    """The decoder without its LM head: final hidden states [B, T, D] (after the last RMSNorm)."""

    def __init__(self, config: LlamaConfig, tensors: dict):
        super().__init__()
        self.config = config
        w = lambda n: tensors[n].to(torch.float32)  # noqa: E731
        opt = lambda n: tensors[n].to(torch.float32) if n in tensors else None  # noqa: E731

        def lin(n: str) -> LoraLinear:
            return LoraLinear(n, w(n + ".weight"), opt(n + ".bias"))

        self.embed_tokens = Tensors(w("model.embed_tokens.weight"))
        self.layers = nn.ModuleList()
        for i in range(config.num_layers):
            l = f"model.layers.{i}."
            layer = Node()
            layer.self_attn = Node()
            for m in ("q_proj", "k_proj", "v_proj", "o_proj"):
                setattr(layer.self_attn, m, lin(f"{l}self_attn.{m}"))
            layer.mlp = Node()
            for m in ("gate_proj", "up_proj", "down_proj"):
                setattr(layer.mlp, m, lin(f"{l}mlp.{m}"))
            layer.input_layernorm = Tensors(w(f"{l}input_layernorm.weight"))
            layer.post_attention_layernorm = Tensors(w(f"{l}post_attention_layernorm.weight"))
            self.layers.append(layer)
        self.norm = Tensors(w("model.norm.weight"))

    def linears(self) -> list:
        """Every linear layer in LlamaModel.linears() order (q, k, v, o, gate, up, down per layer)."""
        out = []
        for L in self.layers:
            a, m = L.self_attn, L.mlp
            out += [a.q_proj, a.k_proj, a.v_proj, a.o_proj, m.gate_proj, m.up_proj, m.down_proj]
        return out

    def check_length(self, T: int) -> None:
        c = self.config
        if T > c.max_positions:
            raise LlamaInputError(f"{T} tokens exceed max_position_embeddings {c.max_positions}; shorten the prompt or documents")
        if c.sliding_window is not None and T > c.sliding_window:
            raise LlamaInputError(
                f"{T} tokens exceed this model's sliding attention window of {c.sliding_window}, which MedRank does not "
                "implement; shorten the input"
            )

    def forward(self, ids, ctx: ForwardContext | None = None, attention=None) -> torch.Tensor:
        c = self.config
        ctx = ctx or ForwardContext(False)
        ratio, shift = attention_mode(attention)
        dev = self.embed_tokens.weight.device
        ids = torch.as_tensor(ids).to(device=dev, dtype=torch.long)
        B, T = ids.shape
        self.check_length(T)
        H, Hkv, Dh = c.num_heads, c.num_kv_heads, c.head_dim
        cos, sin = rope_tables(c, T, dev)
        x = F.embedding(ids, self.embed_tokens.weight)
        for L in self.layers:
            a, m = L.self_attn, L.mlp
            h = rms_norm(x, L.input_layernorm.weight, c.rms_norm_eps)
            q = apply_rope(a.q_proj(h, ctx).reshape(B, T, H, Dh), cos, sin).transpose(1, 2)
            k = apply_rope(a.k_proj(h, ctx).reshape(B, T, Hkv, Dh), cos, sin).transpose(1, 2)
            v = a.v_proj(h, ctx).reshape(B, T, Hkv, Dh).transpose(1, 2)
            o = attend(q, k, v, ratio=ratio, shift=shift, causal=True)
            x = x + a.o_proj(o.transpose(1, 2).reshape(B, T, H * Dh), ctx)
            hm = rms_norm(x, L.post_attention_layernorm.weight, c.rms_norm_eps)
            x = x + m.down_proj(F.silu(m.gate_proj(hm, ctx)) * m.up_proj(hm, ctx), ctx)
        return rms_norm(x, self.norm.weight, c.rms_norm_eps)

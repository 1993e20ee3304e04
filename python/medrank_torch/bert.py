"""BERT encoder with Hugging Face BertModel semantics, as src/models/bert.ts runs it.

Owns: bert_specs (the tensors config.json implies) and BertEncoder, an nn.Module laid out like HF's
BertModel (embeddings.*, encoder.layer.{i}.*), so its parameters carry the checkpoint's names under
the prefix. Forward: word + absolute position + token-type embeddings, LayerNorm, hidden dropout;
then post-LN layers: x = LN(drop(o(attn(x))) + x), x = LN(drop(down(act(up(x)))) + x) with exact
erf gelu or tanh gelu_new; attention is full and bidirectional with the padding mask on keys, and
never drops attention probabilities (the browser's fused kernel has none). Dropout seeds are taken
in bert.ts's order: per layer the q, k, v, o LoRA inputs, the attention output, up, down LoRA
inputs, the MLP output.
B = batch, T = tokens, D = hidden size, H = heads, Dh = head dim, F = intermediate size.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import attention
from .lora import LoraLinear
from .model_config import BertConfig
from .rng import ForwardContext, ctx_dropout


class BertInputError(ValueError):
    """Inputs the encoder cannot take (too long, mismatched shapes)."""


def bert_specs(c: BertConfig, prefix: str) -> list:
    """[(name, shape)] of a BertModel's tensors under prefix ('' or 'bert.'), in bertSpecs' order."""
    D, Fi = c.hidden_size, c.intermediate_size
    s = [
        ("embeddings.word_embeddings.weight", [c.vocab_size, D]),
        ("embeddings.position_embeddings.weight", [c.max_positions, D]),
        ("embeddings.token_type_embeddings.weight", [c.type_vocab_size, D]),
        ("embeddings.LayerNorm.weight", [D]),
        ("embeddings.LayerNorm.bias", [D]),
    ]
    for i in range(c.num_layers):
        l = f"encoder.layer.{i}."
        for m in ("query", "key", "value"):
            s += [(f"{l}attention.self.{m}.weight", [D, D]), (f"{l}attention.self.{m}.bias", [D])]
        s += [
            (f"{l}attention.output.dense.weight", [D, D]),
            (f"{l}attention.output.dense.bias", [D]),
            (f"{l}attention.output.LayerNorm.weight", [D]),
            (f"{l}attention.output.LayerNorm.bias", [D]),
            (f"{l}intermediate.dense.weight", [Fi, D]),
            (f"{l}intermediate.dense.bias", [Fi]),
            (f"{l}output.dense.weight", [D, Fi]),
            (f"{l}output.dense.bias", [D]),
            (f"{l}output.LayerNorm.weight", [D]),
            (f"{l}output.LayerNorm.bias", [D]),
        ]
    return [(prefix + n, shape) for n, shape in s]


class Node(nn.Module):
    """A named level of the checkpoint's module tree (children are assigned as attributes)."""


class Tensors(nn.Module):
    """A leaf holding `weight` (and `bias`) under the checkpoint's names; frozen until trained."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None):
        super().__init__()
        self.weight = nn.Parameter(weight, requires_grad=False)
        if bias is not None:
            self.bias = nn.Parameter(bias, requires_grad=False)


class BertEncoder(nn.Module):
    """last_hidden_state [B, T, D] of token ids with a padding mask."""

    def __init__(self, config: BertConfig, tensors: dict, prefix: str = ""):
        super().__init__()
        self.config, self.prefix = config, prefix
        w = lambda n: tensors[prefix + n].to(torch.float32)  # noqa: E731

        def lin(n: str) -> LoraLinear:
            return LoraLinear(prefix + n, w(n + ".weight"), w(n + ".bias"))

        e = self.embeddings = Node()
        e.word_embeddings = Tensors(w("embeddings.word_embeddings.weight"))
        e.position_embeddings = Tensors(w("embeddings.position_embeddings.weight"))
        e.token_type_embeddings = Tensors(w("embeddings.token_type_embeddings.weight"))
        e.LayerNorm = Tensors(w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"))
        self.encoder = Node()
        self.encoder.layer = nn.ModuleList()
        for i in range(config.num_layers):
            l = f"encoder.layer.{i}."
            layer = Node()
            layer.attention = Node()
            layer.attention.self = Node()
            for m in ("query", "key", "value"):
                setattr(layer.attention.self, m, lin(f"{l}attention.self.{m}"))
            layer.attention.output = Node()
            layer.attention.output.dense = lin(f"{l}attention.output.dense")
            layer.attention.output.LayerNorm = Tensors(w(f"{l}attention.output.LayerNorm.weight"), w(f"{l}attention.output.LayerNorm.bias"))
            layer.intermediate = Node()
            layer.intermediate.dense = lin(f"{l}intermediate.dense")
            layer.output = Node()
            layer.output.dense = lin(f"{l}output.dense")
            layer.output.LayerNorm = Tensors(w(f"{l}output.LayerNorm.weight"), w(f"{l}output.LayerNorm.bias"))
            self.encoder.layer.append(layer)

    def linears(self) -> list:
        """Every linear layer in BertEncoder.linears() order (q, k, v, o, up, down per layer), for LoRA."""
        out = []
        for L in self.encoder.layer:
            a = L.attention.self
            out += [a.query, a.key, a.value, L.attention.output.dense, L.intermediate.dense, L.output.dense]
        return out

    def _drop(self, x: torch.Tensor, ctx: ForwardContext) -> torch.Tensor:
        return ctx_dropout(x, self.config.hidden_dropout, ctx)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, ctx: ForwardContext | None = None, token_types=None) -> torch.Tensor:
        c = self.config
        ctx = ctx or ForwardContext(False)
        dev = self.embeddings.word_embeddings.weight.device
        ids = torch.as_tensor(ids).to(device=dev, dtype=torch.long)
        B, T = ids.shape
        if T > c.max_positions:
            raise BertInputError(f"BERT input of {T} tokens exceeds max_position_embeddings {c.max_positions}; truncate it")
        mask = torch.as_tensor(mask).to(device=dev, dtype=torch.float32)
        if list(mask.shape) != [B, T]:
            raise BertInputError(f"BERT mask must be [B, T] = [{B}, {T}], got {list(mask.shape)}")
        tt = torch.zeros_like(ids) if token_types is None else torch.as_tensor(token_types).to(device=dev, dtype=torch.long)
        D, H = c.hidden_size, c.num_heads
        Dh = D // H
        e = self.embeddings
        x = F.embedding(ids, e.word_embeddings.weight) + e.position_embeddings.weight[:T][None]
        x = x + F.embedding(tt, e.token_type_embeddings.weight)
        x = self._drop(F.layer_norm(x, (D,), e.LayerNorm.weight, e.LayerNorm.bias, c.layer_norm_eps), ctx)
        act = (lambda t: F.gelu(t)) if c.hidden_act == "gelu" else (lambda t: F.gelu(t, approximate="tanh"))

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(B, T, H, Dh).transpose(1, 2)

        for L in self.encoder.layer:
            s = L.attention.self
            q, k, v = heads(s.query(x, ctx)), heads(s.key(x, ctx)), heads(s.value(x, ctx))
            a = attention(q, k, v, ratio=1.0, shift="none", causal=False, key_mask=mask).transpose(1, 2).reshape(B, T, D)
            o = L.attention.output
            x = F.layer_norm(self._drop(o.dense(a, ctx), ctx) + x, (D,), o.LayerNorm.weight, o.LayerNorm.bias, c.layer_norm_eps)
            h = L.output.dense(act(L.intermediate.dense(x, ctx)), ctx)
            x = F.layer_norm(self._drop(h, ctx) + x, (D,), L.output.LayerNorm.weight, L.output.LayerNorm.bias, c.layer_norm_eps)
        return x

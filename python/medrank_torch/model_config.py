"""config.json of the architectures MedRank implements, parsed and checked (src/models/config.ts).

Owns: BertConfig and LlamaConfig (the TS fields in snake_case, Hugging Face's defaults), the
refusals with their messages (UnsupportedArchitectureError for what MedRank does not implement,
ModelConfigError for a malformed or inconsistent config) and rope_inv_freq, the RoPE inverse
frequencies with the config's scaling in f32 exactly as ropeInvFreq computes them.
H = heads, Hkv = key/value heads, Dh = head dim, V = vocab, D = hidden size.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np


class ModelConfigError(ValueError):
    """A config.json that is not valid JSON, lacks a required field or is inconsistent."""


class UnsupportedArchitectureError(ValueError):
    """config.json names an architecture MedRank does not implement, or a setting it cannot honour."""


@dataclass
class BertConfig:
    vocab_size: int
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    max_positions: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_act: str = "gelu"  # 'gelu' (erf) or 'gelu_new' (tanh)
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1  # parsed, never applied (the fused kernel has no probabilities)
    pad_token_id: int = 0
    colbert_dim: int = 128  # colbert-ir checkpoints store it as `dim`
    kind: str = "bert"


@dataclass
class LlamaConfig:
    family: str  # 'llama' (Llama, SmolLM, Mistral-style) or 'qwen2'
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    max_positions: int = 2048
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    # {'type': 'default'} | {'type': 'linear', 'factor'} | {'type': 'llama3', 'factor',
    # 'low_freq_factor', 'high_freq_factor', 'original_max_positions'}
    rope_scaling: dict = field(default_factory=lambda: {"type": "default"})
    tie_word_embeddings: bool = False
    attention_bias: bool = False  # q/k/v bias (qwen2 always); llama's covers o_proj too
    mlp_bias: bool = False
    bos_token_id: int | None = None
    eos_token_ids: list = field(default_factory=list)
    pad_token_id: int | None = None
    sliding_window: int | None = None  # on: longer inputs are refused
    kind: str = "llama"


BERT_TYPES = ["bert"]
LLAMA_TYPES = ["llama", "qwen2", "mistral"]
_MISSING = object()


def _js(v) -> str:
    return "undefined" if v is _MISSING else json.dumps(v)


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _int(raw: dict, key: str, fallback=_MISSING) -> int:
    v = raw.get(key)
    if v is None:
        v = fallback
    if not (_is_num(v) and math.isfinite(v) and float(v).is_integer() and v >= 0):
        if v is _MISSING:
            raise ModelConfigError(f'config.json lacks "{key}"; it is required for model_type {raw.get("model_type")}')
        raise ModelConfigError(f'config.json "{key}" must be a non-negative integer, got {_js(v)}')
    return int(v)


def _num(raw: dict, key: str, fallback: float) -> float:
    v = raw.get(key)
    if v is None:
        v = fallback
    if not (_is_num(v) and math.isfinite(v)):
        raise ModelConfigError(f'config.json "{key}" must be a number, got {_js(v)}')
    return v


def _opt_int(v):
    return int(v) if _is_num(v) and math.isfinite(v) and float(v).is_integer() else None


def parse_config(raw):
    """BertConfig or LlamaConfig of a config.json (its text or the parsed dict)."""
    if isinstance(raw, (str, bytes)):
        try:
            raw = json.loads(raw)
        except ValueError as e:
            raise ModelConfigError(f"config.json is not valid JSON ({e}); re-download it or fix the file") from None
    if not isinstance(raw, dict):
        raise ModelConfigError("config.json must be a JSON object with model_type and the model sizes")
    t = raw.get("model_type")
    if not isinstance(t, str):
        raise ModelConfigError('config.json has no "model_type"; MedRank reads Hugging Face configs (bert, llama, qwen2)')
    if t in BERT_TYPES:
        return _parse_bert(raw)
    if t in LLAMA_TYPES:
        return _parse_llama(raw, t)
    archs = f" ({', '.join(map(str, raw['architectures']))})" if isinstance(raw.get("architectures"), list) else ""
    raise UnsupportedArchitectureError(
        f'model_type "{t}"{archs} is not supported. MedRank trains BERT/ColBERT retrievers (model_type bert) and '
        "Llama-family generators (llama, qwen2, mistral, e.g. SmolLM or Qwen2); pick a checkpoint of one of these"
    )


def _parse_bert(raw: dict) -> BertConfig:
    act = raw.get("hidden_act")
    act = "gelu" if act is None else act
    if act not in ("gelu", "gelu_new"):
        raise UnsupportedArchitectureError(f'BERT hidden_act "{act}" is not supported; MedRank implements gelu and gelu_new')
    pos = raw.get("position_embedding_type", _MISSING)
    if pos is not _MISSING and pos != "absolute":
        raise UnsupportedArchitectureError(
            f'BERT position_embedding_type "{pos}" is not supported; only absolute positions are'
        )
    c = BertConfig(
        vocab_size=_int(raw, "vocab_size"),
        hidden_size=_int(raw, "hidden_size", 768),
        num_layers=_int(raw, "num_hidden_layers", 12),
        num_heads=_int(raw, "num_attention_heads", 12),
        intermediate_size=_int(raw, "intermediate_size", 3072),
        max_positions=_int(raw, "max_position_embeddings", 512),
        type_vocab_size=_int(raw, "type_vocab_size", 2),
        layer_norm_eps=_num(raw, "layer_norm_eps", 1e-12),
        hidden_act=act,
        hidden_dropout=_num(raw, "hidden_dropout_prob", 0.1),
        attention_dropout=_num(raw, "attention_probs_dropout_prob", 0.1),
        pad_token_id=_int(raw, "pad_token_id", 0),
        colbert_dim=_int(raw, "dim", 128),
    )
    if c.num_heads == 0 or c.hidden_size % c.num_heads != 0:
        raise ModelConfigError(f"hidden_size {c.hidden_size} is not divisible by num_attention_heads {c.num_heads}")
    return c


def _parse_rope_scaling(raw: dict) -> dict:
    s = raw.get("rope_scaling")
    if s is None or s is False or s == 0 or s == "":
        return {"type": "default"}
    d = s if isinstance(s, dict) else {}
    t = d.get("rope_type")
    if t is None:
        t = d.get("type")
    if t == "default":
        return {"type": "default"}
    # Dynamic NTK only changes the frequencies beyond max_position_embeddings, which MedRank's
    # contexts never reach (the model refuses longer inputs), so it equals the default here.
    if t == "dynamic":
        return {"type": "default"}
    if t == "linear":
        return {"type": "linear", "factor": _num(d, "factor", 1)}
    if t == "llama3":
        return {
            "type": "llama3",
            "factor": _num(d, "factor", 8),
            "low_freq_factor": _num(d, "low_freq_factor", 1),
            "high_freq_factor": _num(d, "high_freq_factor", 4),
            "original_max_positions": _int(d, "original_max_position_embeddings", 8192),
        }
    raise UnsupportedArchitectureError(
        f'rope_scaling type "{t}" is not supported; MedRank implements default, linear, dynamic (within '
        "max_position_embeddings) and llama3"
    )


def _parse_llama(raw: dict, t: str) -> LlamaConfig:
    act = raw.get("hidden_act")
    act = "silu" if act is None else act
    if act != "silu":
        raise UnsupportedArchitectureError(f'hidden_act "{act}" is not supported for {t}; MedRank\'s MLP is SwiGLU (silu)')
    D = _int(raw, "hidden_size")
    H = _int(raw, "num_attention_heads")
    Hkv = _int(raw, "num_key_value_heads", H)
    if H == 0 or (D % H != 0 and "head_dim" not in raw):
        raise ModelConfigError(f"hidden_size {D} is not divisible by num_attention_heads {H}")
    Dh = _int(raw, "head_dim", D // max(1, H))
    if Hkv == 0 or H % Hkv != 0:
        raise ModelConfigError(f"num_attention_heads {H} must be a multiple of num_key_value_heads {Hkv}")
    eos = raw.get("eos_token_id")
    qwen = t == "qwen2"
    window_on = raw.get("use_sliding_window") is True if qwen else True
    return LlamaConfig(
        family="qwen2" if qwen else "llama",
        vocab_size=_int(raw, "vocab_size"),
        hidden_size=D,
        intermediate_size=_int(raw, "intermediate_size"),
        num_layers=_int(raw, "num_hidden_layers"),
        num_heads=H,
        num_kv_heads=Hkv,
        head_dim=Dh,
        max_positions=_int(raw, "max_position_embeddings", 2048),
        rms_norm_eps=_num(raw, "rms_norm_eps", 1e-6),
        rope_theta=_num(raw, "rope_theta", 10000),
        rope_scaling=_parse_rope_scaling(raw),
        tie_word_embeddings=raw.get("tie_word_embeddings") is True,  # HF's default is false for both families
        attention_bias=qwen or raw.get("attention_bias") is True,
        mlp_bias=raw.get("mlp_bias") is True,
        bos_token_id=_opt_int(raw.get("bos_token_id")),
        eos_token_ids=[x for x in eos if _is_num(x)] if isinstance(eos, list) else ([int(eos)] if _opt_int(eos) is not None else []),
        pad_token_id=_opt_int(raw.get("pad_token_id")),
        # Qwen2 configs carry a window that is off unless use_sliding_window; Mistral's is on when set.
        sliding_window=_opt_int(raw.get("sliding_window")) if window_on else None,
    )


def rope_inv_freq(c: LlamaConfig) -> np.ndarray:
    """Inverse RoPE frequencies [Dh/2] float32, every step rounded to f32 as ropeInvFreq does."""

    def f(v) -> float:
        return float(np.float32(v))

    half = c.head_dim // 2
    inv = [f(1 / f(c.rope_theta ** f((2 * i) / c.head_dim))) for i in range(half)]
    s = c.rope_scaling
    if s["type"] == "linear":
        inv = [f(v / s["factor"]) for v in inv]
    if s["type"] == "llama3":
        old, factor = s["original_max_positions"], s["factor"]
        low, high = s["low_freq_factor"], s["high_freq_factor"]
        low_wavelen, high_wavelen = old / low, old / high
        for i, base in enumerate(inv):
            wavelen = f(2 * math.pi / base)
            scaled = f(base / factor) if wavelen > low_wavelen else base
            if wavelen < high_wavelen or wavelen > low_wavelen:
                inv[i] = scaled
            else:
                smooth = f((f(old / wavelen) - low) / (high - low))
                inv[i] = f(f(f(1 - smooth) * f(scaled / factor)) + f(smooth * scaled))
    return np.array(inv, dtype=np.float32)

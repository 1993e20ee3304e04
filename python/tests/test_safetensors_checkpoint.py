"""safetensors.py, checkpoint.py and model_config.py: round trips, the refusals of malformed files,
sharded folders and their index, config.json parsing with its defaults and refusals."""

import json
import os
import shutil
import struct

import numpy as np
import pytest
import torch

from medrank_torch import safetensors as st
from medrank_torch.checkpoint import CheckpointError, read_folder, verify
from medrank_torch.llama import llama_specs
from medrank_torch.model_config import (
    BertConfig,
    LlamaConfig,
    ModelConfigError,
    UnsupportedArchitectureError,
    parse_config,
    rope_inv_freq,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(ROOT, "test", "fixtures", "models")


def raw_file(header: dict, data: bytes = b"", declared: int | None = None) -> bytes:
    head = json.dumps(header).encode()
    return struct.pack("<Q", len(head) if declared is None else declared) + head + data


def test_round_trip_and_deterministic_bytes(tmp_path):
    t = {"w": torch.randn(3, 4, dtype=torch.float64), "ids": torch.tensor([1, -2, 3], dtype=torch.int32), "s": torch.tensor(2.5)}
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    st.save(a, t, {"k": "v"})
    st.save(b, dict(reversed(list(t.items()))), {"k": "v"})
    assert a.read_bytes() == b.read_bytes()
    got, meta = st.load(a)
    assert meta == {"k": "v"} and list(got) == ["ids", "s", "w"]
    assert got["w"].dtype == torch.float32 and torch.equal(got["w"], t["w"].float())
    assert got["ids"].dtype == torch.int32 and got["ids"].tolist() == [1, -2, 3]
    assert got["s"].shape == () and float(got["s"]) == 2.5
    assert (8 + struct.unpack("<Q", a.read_bytes()[:8])[0]) % 8 == 0


def test_half_types_and_integers_decode():
    vals = np.array([1.5, -2.0, 65504.0, 2**-24], dtype=np.float32)
    f16 = vals.astype("<f2").tobytes()
    bf16 = (vals.view(np.uint32) >> 16).astype("<u2").tobytes()
    i64 = np.array([-5, 2**40], dtype="<i8").tobytes()
    u8 = bytes([0, 255])
    data = f16 + bf16 + i64 + u8
    h = {"h": {"dtype": "F16", "shape": [4], "data_offsets": [0, 8]}, "b": {"dtype": "BF16", "shape": [4], "data_offsets": [8, 16]},
         "l": {"dtype": "I64", "shape": [2], "data_offsets": [16, 32]}, "u": {"dtype": "U8", "shape": [2], "data_offsets": [32, 34]}}
    t, _ = st.load(raw_file(h, data))
    assert t["h"].dtype == torch.float32 and t["h"].tolist() == vals.tolist()
    assert t["b"].tolist() == [1.5, -2.0, 65280.0, 2**-24]
    assert t["l"].dtype == torch.int64 and t["l"].tolist() == [-5, 2**40]
    assert t["u"].dtype == torch.uint8 and t["u"].tolist() == [0, 255]


F32_2 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
DUP = b'{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{}}'


@pytest.mark.parametrize("data,message", [
    (b"\x01\x02", "file is truncated: it has 2 bytes"),
    (raw_file({}, declared=200 * 1024 * 1024), "above the 104857600-byte limit"),
    (raw_file({}, declared=50), "only 2 bytes follow"),
    (struct.pack("<Q", 4) + b"{x:1", "not valid UTF-8 JSON"),
    (struct.pack("<Q", 2) + b"\xff\xfe", "not valid UTF-8 JSON"),
    (raw_file([1, 2]), "not an object of tensors"),
    (raw_file({"a": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8), 'tensor "a": unknown dtype "F64"'),
    (raw_file({"a": {"dtype": "F32", "shape": [2, -1], "data_offsets": [0, 8]}}, b"\0" * 8), "not a list of non-negative integers"),
    (raw_file({"a": {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}}, b"\0" * 4), "not a list of non-negative integers"),
    (raw_file({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}, b"\0" * 8), "0 <= begin <= end"),
    (raw_file({"a": F32_2}, b"\0" * 4), 'file is truncated: tensor "a" ends at byte 8 but the data section has 4 bytes'),
    (raw_file({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8), "span 8 bytes but shape [3] of F32 needs 12"),
    (raw_file({"a": F32_2, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12), 'tensors "a" [0, 8) and "b" [4, 12) overlap'),
    (raw_file({"__metadata__": {"k": 1}}), '"__metadata__" key "k" holds 1, not a string'),
    (raw_file({"a": [1]}), "header entry is not an object"),
    (struct.pack("<Q", len(DUP)) + DUP, 'names "a" twice'),
], ids=["short", "huge-header", "header-past-end", "bad-json", "bad-utf8", "json-array", "bad-dtype", "negative-dim",
        "bool-dim", "reversed-offsets", "truncated-data", "shape-bytes-mismatch", "overlap", "metadata-number",
        "entry-not-object", "duplicate-name"])
def test_malformed_files_are_refused_with_clear_messages(tmp_path, data, message):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(data)
    with pytest.raises(st.SafetensorsError) as e:
        st.load(path)
    assert str(path) in str(e.value) and message in str(e.value)
    assert isinstance(e.value, ValueError)


def test_save_refuses_bad_input(tmp_path):
    with pytest.raises(st.SafetensorsError, match="metadata values must be strings"):
        st.save(tmp_path / "x", {"a": torch.zeros(1)}, {"n": 1})
    with pytest.raises(st.SafetensorsError, match="outside int32"):
        st.save(tmp_path / "x", {"a": torch.tensor([2**40])})


def test_sharded_folder_and_its_index(tmp_path):
    raw, tensors = read_folder(os.path.join(MODELS, "tiny-qwen2"))
    c = parse_config(raw)
    verify(tensors, llama_specs(c), "tiny-qwen2")
    assert len(tensors) == len(llama_specs(c)) and tensors["model.embed_tokens.weight"].dtype == torch.float32

    def copy() -> str:
        d = tmp_path / f"m{len(os.listdir(tmp_path))}"
        shutil.copytree(os.path.join(MODELS, "tiny-qwen2"), d)
        return str(d)

    def with_index(edit) -> str:
        d = copy()
        p = os.path.join(d, "model.safetensors.index.json")
        idx = json.load(open(p))
        edit(idx)
        json.dump(idx, open(p, "w"))
        return d

    d = copy()
    os.remove(os.path.join(d, "model-00002-of-00002.safetensors"))
    with pytest.raises(CheckpointError, match=r"model-00002-of-00002.safetensors is missing: .*Download every shard"):
        read_folder(d)
    d = with_index(lambda i: i["weight_map"].update({"model.norm.weight": "../model.safetensors"}))
    with pytest.raises(CheckpointError, match=r'points to "../model.safetensors", which is not a file name inside'):
        read_folder(d)
    d = with_index(lambda i: i["weight_map"].update({"model.norm.weight": "model-00001-of-00002.safetensors"}))
    with pytest.raises(CheckpointError, match=r'puts tensor "model.norm.weight" in model-00001-of-00002.safetensors, but it is in'):
        read_folder(d)
    d = with_index(lambda i: i.pop("weight_map"))
    with pytest.raises(CheckpointError, match='"weight_map" is missing'):
        read_folder(d)
    d = copy()
    open(os.path.join(d, "model-00001-of-00002.safetensors"), "r+b").truncate(100)
    with pytest.raises(CheckpointError, match="model-00001-of-00002.safetensors: bad header length"):
        read_folder(d)
    with pytest.raises(CheckpointError, match="neither model.safetensors nor"):
        os.remove(os.path.join(d, "model.safetensors.index.json"))
        read_folder(d)


def test_verify_lists_missing_and_mismatched():
    c = parse_config(json.load(open(os.path.join(MODELS, "tiny-llama", "config.json"))))
    _, t = read_folder(os.path.join(MODELS, "tiny-llama"))
    del t["model.norm.weight"]
    t["lm_head.weight"] = torch.zeros(3, 3)
    t["model.layers.0.input_layernorm.weight"] = torch.zeros(32, dtype=torch.int32)
    with pytest.raises(CheckpointError) as e:
        verify(t, llama_specs(c), "the llama generator")
    m = str(e.value)
    assert "1 tensor(s) missing: model.norm.weight" in m and '"lm_head.weight" is [3,3], config.json implies [330,32]' in m
    assert "not a float type" in m and "same checkpoint" in m


def test_configs_parse_with_the_browser_defaults():
    b = parse_config(json.load(open(os.path.join(MODELS, "tiny-colbert", "config.json"))))
    assert isinstance(b, BertConfig) and (b.colbert_dim, b.hidden_act, b.layer_norm_eps, b.hidden_dropout) == (16, "gelu", 1e-12, 0.1)
    q = parse_config(json.load(open(os.path.join(MODELS, "tiny-qwen2", "config.json"))))
    assert isinstance(q, LlamaConfig) and q.family == "qwen2" and q.attention_bias and q.tie_word_embeddings
    assert (q.num_kv_heads, q.head_dim, q.sliding_window, q.eos_token_ids) == (1, 8, None, [327])
    m = parse_config({"model_type": "mistral", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 16,
                      "num_hidden_layers": 1, "num_attention_heads": 2, "sliding_window": 4096, "head_dim": 6,
                      "eos_token_id": [1, 2], "attention_bias": True, "rope_scaling": {"type": "linear", "factor": 2.0}})
    assert (m.family, m.num_kv_heads, m.head_dim, m.sliding_window, m.eos_token_ids, m.max_positions) == ("llama", 2, 6, 4096, [1, 2], 2048)
    assert m.rope_scaling == {"type": "linear", "factor": 2.0} and not m.tie_word_embeddings and not m.mlp_bias
    names = {n for n, _ in llama_specs(m)}
    assert "model.layers.0.self_attn.o_proj.bias" in names and "lm_head.weight" in names
    assert "model.layers.0.self_attn.o_proj.bias" not in {n for n, _ in llama_specs(q)}
    inv = rope_inv_freq(m)
    base = (1 / (10000.0 ** (np.arange(0, 6, 2, dtype=np.float32) / 6))).astype(np.float32)
    assert np.array_equal(inv, (base / np.float32(2)).astype(np.float32))


@pytest.mark.parametrize("raw,error,message", [
    ({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}, UnsupportedArchitectureError,
     'model_type "gpt2" (GPT2LMHeadModel) is not supported. MedRank trains BERT/ColBERT retrievers (model_type bert) and Llama-family'),
    ({}, ModelConfigError, 'no "model_type"'),
    ({"model_type": "bert"}, ModelConfigError, 'config.json lacks "vocab_size"; it is required for model_type bert'),
    ({"model_type": "bert", "vocab_size": 5, "hidden_act": "relu"}, UnsupportedArchitectureError, "implements gelu and gelu_new"),
    ({"model_type": "bert", "vocab_size": 5, "position_embedding_type": "relative_key"}, UnsupportedArchitectureError, "only absolute"),
    ({"model_type": "bert", "vocab_size": 5, "hidden_size": 10}, ModelConfigError, "not divisible by num_attention_heads 12"),
    ({"model_type": "bert", "vocab_size": 2.5}, ModelConfigError, '"vocab_size" must be a non-negative integer, got 2.5'),
    ({"model_type": "llama", "vocab_size": 5, "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1,
      "num_attention_heads": 2, "num_key_value_heads": 3}, ModelConfigError, "must be a multiple of num_key_value_heads 3"),
    ({"model_type": "llama", "hidden_act": "gelu"}, UnsupportedArchitectureError, "MedRank's MLP is SwiGLU (silu)"),
    ({"model_type": "llama", "vocab_size": 5, "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1,
      "num_attention_heads": 2, "rope_scaling": {"rope_type": "yarn"}}, UnsupportedArchitectureError,
     'rope_scaling type "yarn" is not supported; MedRank implements default, linear, dynamic'),
    ("{not json", ModelConfigError, "not valid JSON"),
])
def test_config_refusals(raw, error, message):
    with pytest.raises(error) as e:
        parse_config(raw)
    assert message in str(e.value)

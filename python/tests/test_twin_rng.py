"""The twin's randomness against the browser's own numbers (test/goldens/twin-rng.json, written by
scripts/goldens/make_twin_rng_golden.ts from src/tensor/random.ts, src/training/step.ts,
src/models/lora.ts and src/tensor/cpu/dropout.ts): Mulberry32, stepSeed, ForwardContext seeds,
dropout masks and outputs, LoRA A initialisation, the ColBERT head initialisation, and the bytes
of the browser's safetensors writer."""

import base64
import json
import os

import numpy as np
import pytest
import torch

from medrank_torch import rng
from medrank_torch import safetensors as st
from medrank_torch.bert import bert_specs
from medrank_torch.checkpoint import read_folder
from medrank_torch.colbert import ColbertRetriever
from medrank_torch.lora import LoraLinear, attach_lora, mulberry32_draws
from medrank_torch.model_config import ModelConfigError, parse_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN = json.load(open(os.path.join(ROOT, "test", "goldens", "twin-rng.json")))


def test_mulberry32_scalar_and_vectorised():
    for case in GOLDEN["mulberry32"]:
        r = rng.mulberry32(case["seed"])
        assert [r() for _ in case["draws"]] == case["draws"]
        assert mulberry32_draws(case["seed"], len(case["draws"])).tolist() == case["draws"]
        assert mulberry32_draws(case["seed"], 3, start=5).tolist() == case["draws"][5:8]


def test_step_seed_and_forward_context():
    for c in GOLDEN["stepSeed"]:
        assert rng.step_seed(c["seed"], c["step"], c["salt"]) == c["value"]
    for c in GOLDEN["forwardContext"]:
        ctx = rng.ForwardContext(True, c["seed"])
        assert [ctx.next_seed() for _ in c["nextSeeds"]] == c["nextSeeds"]


def test_dropout_masks_and_values():
    x = torch.tensor(GOLDEN["dropoutInput"], dtype=torch.float32)
    for c in GOLDEN["dropout"]:
        keep = np.array([ch == "1" for ch in c["keep"]])
        mask = rng.dropout_mask(c["seed"], (c["n"],), c["p"]).numpy()
        assert np.array_equal(mask != 0, keep)
        assert np.float32(c["scale"]) == mask[keep][0]
        out = rng.dropout(x[: c["n"]], c["p"], c["seed"])
        assert torch.equal(out, torch.tensor(c["out"], dtype=torch.float32))
        # A rank holding rows 2.. of a [4, 80] batch draws those rows of the global mask.
        part = rng.dropout(x[160:320].reshape(2, 80), c["p"], c["seed"], offset=160)
        assert torch.equal(part.reshape(-1), out[160:320])


@pytest.mark.parametrize("case", range(len(GOLDEN["lora"])))
def test_lora_init_matches_attach_lora(case):
    c = GOLDEN["lora"][case]
    linears = [LoraLinear(l["name"], torch.zeros(l["shape"])) for l in c["linears"]]
    adapters = attach_lora(linears, c["config"], c["seed"])
    assert [a.name + ".lora_A" for a in adapters] == [g["name"] for g in c["adapters"]]
    for a, g in zip(adapters, c["adapters"]):
        assert list(a.A.shape) == g["shape"] and list(a.B.shape) == g["bShape"]
        assert torch.equal(a.A.detach().reshape(-1), torch.tensor(g["A"], dtype=torch.float32))
        assert not a.B.any() and a.scaling == g["scaling"]


def test_attach_lora_refuses_unknown_targets():
    linears = [LoraLinear("model.layers.0.self_attn.q_proj", torch.zeros(2, 2))]
    with pytest.raises(ModelConfigError, match=r"LoRA target module\(s\) query match no layer; this model's linear modules are q_proj"):
        attach_lora(linears, {"r": 1, "alpha": 1, "dropout": 0, "targetModules": ["query"]}, 0)
    with pytest.raises(ModelConfigError, match="rank r must be a positive integer"):
        attach_lora(linears, {"r": 0, "alpha": 1, "dropout": 0, "targetModules": ["q_proj"]}, 0)


def test_colbert_head_initialisation():
    for c in GOLDEN["colbertHead"]:
        got = ((2 * mulberry32_draws(c["seed"], c["dim"] * c["hidden"]) - 1) / np.sqrt(c["hidden"])).astype(np.float32)
        assert got.tolist() == c["weight"]
    # A checkpoint without linear.weight gets the head ColbertRetriever.load draws from the seed.
    c = next(c for c in GOLDEN["colbertHead"] if c["hidden"] == 32)
    raw, tensors = read_folder(os.path.join(ROOT, "test", "fixtures", "models", "tiny-colbert"))
    del tensors["linear.weight"]
    cfg = parse_config(raw)
    assert cfg.colbert_dim == c["dim"] and cfg.hidden_size == c["hidden"]
    r = ColbertRetriever(cfg, tensors, seed=c["seed"])
    assert torch.equal(r.linear.weight.detach().reshape(-1), torch.tensor(c["weight"], dtype=torch.float32))
    assert len(bert_specs(cfg, "bert.")) == sum(1 for n in r.param_names().values() if n != "linear.weight")


def test_save_matches_the_browser_writer(tmp_path):
    want = base64.b64decode(GOLDEN["safetensorsBase64"])
    tensors, meta = st.load(want)
    assert meta == {"format": "pt", "note": "café"}
    assert tensors["b"].dtype == torch.int32 and tensors["a"].dtype == torch.float32
    path = tmp_path / "x.safetensors"
    st.save(path, {"z.weight": tensors["z.weight"], "b": tensors["b"], "a": tensors["a"]}, meta)
    assert path.read_bytes() == want

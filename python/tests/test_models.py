"""The model layer against test/goldens/models (the tiny fixtures, HF semantics, float64 references),
and against independent references written here for what the goldens do not cover: dropout at the
browser's call sites in its seed order (BERT hidden dropout, LoRA input dropout), the mask offsets of
a rank's rows, head_dim != D/H with biases and tied embeddings, S2-Attn padding, and the refusals."""

import math
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from medrank_torch import rng
from medrank_torch import safetensors as st
from medrank_torch.checkpoint import read_folder
from medrank_torch.colbert import ColbertRetriever
from medrank_torch.generator import Generator
from medrank_torch.llama import LlamaInputError, llama_specs, pad_batch, padded_length
from medrank_torch.model_config import ModelConfigError, parse_config, rope_inv_freq

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(ROOT, "test", "fixtures", "models")
GOLD = os.path.join(ROOT, "test", "goldens", "models")
TOL = 1e-4


def rel(a, b) -> float:
    return float((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-30))


def golden(name):
    return st.load(os.path.join(GOLD, f"{name}.safetensors"))[0]


def grad_key(name: str) -> str:
    """grad.lora.<mod>.A for <mod>.lora_A, else grad.<name>."""
    for s in ("A", "B"):
        if name.endswith(".lora_" + s):
            return f"grad.lora.{name[: -len('.lora_A')]}.{s}"
    return "grad." + name


def set_adapters(model, g):
    for l in model.linears():
        if l.lora_A is not None:
            l.lora_A.data.copy_(g[f"lora.{l.name}.A"])
            l.lora_B.data.copy_(g[f"lora.{l.name}.B"])


# --- ColBERT ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def colbert():
    return ColbertRetriever.load(os.path.join(MODELS, "tiny-colbert"))


def test_colbert_against_golden(colbert):
    g = golden("tiny-colbert")
    r = colbert
    with torch.no_grad():
        hidden = r.bert(g["input_ids"], g["attention_mask"])
        assert rel(hidden, g["hidden"]) < TOL
        assert rel(r.project(hidden), g["colbert"]) < TOL
    params = r.configure_training("lora", {"r": 4, "alpha": 8, "dropout": 0, "targetModules": ["query", "value"]}, 0)
    names = r.param_names()
    assert [names[p] for p in params][:3] == ["linear.weight", "bert.encoder.layer.0.attention.self.query.lora_A",
                                              "bert.encoder.layer.0.attention.self.query.lora_B"]
    assert len(params) == 9 and all(p.requires_grad for p in params)
    set_adapters(r.bert, g)
    out = r.encode_queries(g["input_ids"], g["attention_mask"])
    assert rel(out, g["colbert_lora"]) < TOL
    loss = (out * g["upstream"] * g["attention_mask"][..., None]).sum()
    assert rel(loss, g["loss_lora"]) < TOL
    loss.backward()
    for p in params:
        assert rel(p.grad, g[grad_key(names[p])]) < TOL, names[p]
    r.configure_training("projection")
    assert [names[p] for p in r.parameters() if p.requires_grad] == ["linear.weight"]


def test_encode_docs_packs_kept_rows(colbert):
    g = golden("tiny-colbert")
    L = g["attention_mask"].sum(1).long().tolist()
    docs = []
    for b in range(2):
        ids = g["input_ids"][b, : L[b]].tolist()
        keep = [0 if t % 3 == 1 else 1 for t in range(L[b])]
        docs.append((ids, keep))
    colbert.configure_training("projection")
    with torch.no_grad():
        vectors, offsets = colbert.encode_docs(docs)
        want = torch.cat([g["colbert"][b, [t for t, k in enumerate(docs[b][1]) if k]] for b in range(2)])
        assert rel(vectors, want) < TOL
        assert offsets.tolist() == [0, sum(docs[0][1]), sum(docs[0][1]) + sum(docs[1][1])]
        padded = colbert.encode_docs(docs, T=20)[0]  # more padding changes nothing for real tokens
        assert rel(padded, vectors) < TOL
    with pytest.raises(ModelConfigError, match="shorter than the longest"):
        colbert.encode_docs(docs, T=5)


def ref_bert(tensors, cfg, ids, mask, ctx, lora, p):
    """An independent BERT forward (HF post-LN) with the browser's dropout sites and seed order."""
    W = {n[len("bert."):]: t for n, t in tensors.items() if n.startswith("bert.")}
    B, T = ids.shape
    D, H = cfg.hidden_size, cfg.num_heads
    drop = lambda x, q: rng.dropout(x, q, ctx.next_seed(), 0) if ctx.training and q > 0 else x  # noqa: E731

    def lin(x, n):
        y = x @ W[n + ".weight"].T + W[n + ".bias"]
        if n in lora:
            A, Bm, scale, q = lora[n]
            y = y + (drop(x, q) @ A.T @ Bm.T) * scale
        return y

    ln = lambda x, n: F.layer_norm(x, (D,), W[n + ".weight"], W[n + ".bias"], cfg.layer_norm_eps)  # noqa: E731
    x = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:T]
    x = drop(ln(x + W["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm"), p)
    for i in range(cfg.num_layers):
        l = f"encoder.layer.{i}."
        hd = lambda t: t.view(B, T, H, D // H).transpose(1, 2)  # noqa: E731
        q, k, v = (hd(lin(x, f"{l}attention.self.{m}")) for m in ("query", "key", "value"))
        s = q @ k.transpose(-1, -2) / math.sqrt(D // H) + (1 - mask)[:, None, None, :] * -1e30
        a = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, D)
        x = ln(drop(lin(a, f"{l}attention.output.dense"), p) + x, f"{l}attention.output.LayerNorm")
        h = lin(F.gelu(lin(x, f"{l}intermediate.dense")), f"{l}output.dense")
        x = ln(drop(h, p) + x, f"{l}output.LayerNorm")
    return F.normalize(x @ tensors["linear.weight"].T, dim=-1)


def test_colbert_dropout_sites_order_and_rank_offsets(colbert):
    g = golden("tiny-colbert")
    raw, tensors = read_folder(os.path.join(MODELS, "tiny-colbert"))
    cfg = parse_config(raw)
    r = colbert
    r.configure_training("lora", {"r": 4, "alpha": 8, "dropout": 0.2, "targetModules": ["value", "dense"]}, 1)
    gen = torch.Generator().manual_seed(0)
    lora = {}
    for l in r.bert.linears():
        if l.lora_A is not None:
            l.lora_B.data.normal_(0, 0.3, generator=gen)
            lora[l.name[len("bert."):]] = (l.lora_A.detach(), l.lora_B.detach(), 2.0, 0.2)
    assert len(lora) == 8  # value and the three dense layers (attention output, intermediate, output) of both layers
    ids, mask = g["input_ids"], g["attention_mask"]
    with torch.no_grad():
        got = r.encode_queries(ids, mask, rng.ForwardContext(True, 77))
        ctx = rng.ForwardContext(True, 77)
        want = ref_bert(tensors, cfg, ids.long(), mask, ctx, lora, cfg.hidden_dropout)
        assert rel(got, want) < TOL
        assert rel(got, r.encode_queries(ids, mask)) > 1e-2  # dropout is on
        # The counter carries on into the documents when one context serves both.
        ctx2 = rng.ForwardContext(True, 77)
        r.encode_queries(ids, mask, ctx2)
        docs = [(ids[1, :8].tolist(), [1] * 8)]
        v, _ = r.encode_docs(docs, ctx2)
        assert ctx2.counter == 2 * ctx.counter
        ref_docs = ref_bert(tensors, cfg, ids[1:, :8].long(), mask[1:, :8], ctx, lora, cfg.hidden_dropout)[0]
        assert rel(v, ref_docs) < TOL
        # A rank holding row 1 of the batch draws row 1's masks (row_offset) and gets row 1's vectors.
        part = r.encode_queries(ids[1:], mask[1:], rng.ForwardContext(True, 77, row_offset=1))
        assert rel(part[0], got[1]) < 1e-6
    r.configure_training("projection")


# --- Llama / Qwen2 --------------------------------------------------------------------------------

def examples_of(g):
    ids, L, P = g["input_ids"].tolist(), g["lengths"].tolist(), g["prompt_lengths"].tolist()
    return [(ids[b][: P[b]], ids[b][P[b] : L[b]]) for b in range(len(L))]


@pytest.mark.parametrize("name", ["tiny-llama", "tiny-qwen2"])
def test_generator_against_golden(name):
    g = golden(name)
    gen = Generator.load(os.path.join(MODELS, name))
    c = gen.config
    assert np.array_equal(rope_inv_freq(c), g["rope_inv_freq"].numpy())
    with torch.no_grad():
        logits = F.linear(gen.model(g["input_ids"]), gen.head)
        assert rel(logits, g["logits"]) < TOL
    ex = examples_of(g)
    sums, means, per = gen.answer_nll(ex)
    assert sums.dtype == np.float64 and per[0].dtype == np.float32
    P, L = g["prompt_lengths"].tolist(), g["lengths"].tolist()
    for b in range(2):
        assert rel(torch.from_numpy(per[b]), g["token_nll"][b, P[b] - 1 : L[b] - 1]) < TOL
        s = 0.0
        for v in per[b].tolist():
            s += v
        assert sums[b] == np.float32(s) and means[b] == np.float32(np.float32(s) / len(per[b]))
    assert rel(torch.from_numpy(sums), g["answer_nll_sum"]) < TOL and rel(torch.from_numpy(means), g["answer_nll_mean"]) < TOL

    lora = {"r": 4, "alpha": 8, "dropout": 0, "targetModules": ["q_proj", "k_proj", "v_proj", "o_proj"]}
    params = gen.configure_training(lora, True, True, 0)
    names = gen.param_names()
    want = ["model.embed_tokens.weight"] + [n for n, _ in llama_specs(c) if n.endswith("norm.weight")]
    want += [] if c.tie_word_embeddings else ["lm_head.weight"]
    assert sorted(names[p] for p in params if "lora_" not in names[p]) == sorted(want)
    assert names[params[len(want)]] == "model.layers.0.self_attn.q_proj.lora_A"
    assert {n for n, p in gen.named_parameters() if p.requires_grad} == {names[p] for p in params}
    set_adapters(gen.model, g)
    nll, offsets = gen.answer_tokens(ex)
    for b in range(2):
        assert rel(nll[offsets[b] : offsets[b + 1]], g["token_nll_lora"][b, P[b] - 1 : L[b] - 1]) < TOL
    loss = gen(ex)
    assert rel(loss, g["loss_lora"]) < TOL
    loss.backward()
    for p in params:
        assert rel(p.grad, g[grad_key(names[p])]) < TOL, names[p]


def ref_llama(W, c, ids, ctx, lora):
    """An independent Llama/Qwen2 forward (HF semantics) with LoRA input dropout in the browser's order."""
    B, T = ids.shape
    H, Hkv, Dh = c.num_heads, c.num_kv_heads, c.head_dim

    def lin(x, n):
        y = x @ W[n + ".weight"].T + (W[n + ".bias"] if n + ".bias" in W else 0)
        if n in lora:
            A, Bm, scale, p = lora[n]
            xin = rng.dropout(x, p, ctx.next_seed(), 0) if ctx.training and p > 0 else x
            y = y + (xin @ A.T @ Bm.T) * scale
        return y

    norm = lambda x, w: w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + c.rms_norm_eps))  # noqa: E731
    inv = torch.from_numpy(rope_inv_freq(c))
    ang = torch.arange(T, dtype=torch.float32)[:, None] * inv
    cos, sin = torch.cat([ang, ang], -1).cos(), torch.cat([ang, ang], -1).sin()
    rot = lambda x: torch.cat([-x[..., Dh // 2 :], x[..., : Dh // 2]], -1)  # noqa: E731
    x = W["model.embed_tokens.weight"][ids]
    for i in range(c.num_layers):
        l = f"model.layers.{i}."
        h = norm(x, W[l + "input_layernorm.weight"])
        q = lin(h, l + "self_attn.q_proj").view(B, T, H, Dh).transpose(1, 2)
        k = lin(h, l + "self_attn.k_proj").view(B, T, Hkv, Dh).transpose(1, 2)
        v = lin(h, l + "self_attn.v_proj").view(B, T, Hkv, Dh).transpose(1, 2)
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        k, v = k.repeat_interleave(H // Hkv, 1), v.repeat_interleave(H // Hkv, 1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(Dh)
        a = torch.softmax(s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf")), -1) @ v
        x = x + lin(a.transpose(1, 2).reshape(B, T, H * Dh), l + "self_attn.o_proj")
        h = norm(x, W[l + "post_attention_layernorm.weight"])
        x = x + lin(F.silu(lin(h, l + "mlp.gate_proj")) * lin(h, l + "mlp.up_proj"), l + "mlp.down_proj")
    x = norm(x, W["model.norm.weight"])
    return x @ (W["model.embed_tokens.weight"] if c.tie_word_embeddings else W["lm_head.weight"]).T


def random_llama(seed=0, **over):
    raw = {"model_type": "llama", "vocab_size": 40, "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 2,
           "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 6, "attention_bias": True, "mlp_bias": True,
           "tie_word_embeddings": True, "rope_scaling": {"type": "linear", "factor": 2.0}, "max_position_embeddings": 64,
           "pad_token_id": 0, **over}
    c = parse_config(raw)
    gen = torch.Generator().manual_seed(seed)
    W = {n: (1.0 if n.endswith("norm.weight") else 0.0) + 0.3 * torch.randn(shape, generator=gen) for n, shape in llama_specs(c)}
    return c, W


def test_decoder_head_dim_biases_tied_and_lora_dropout_order():
    c, W = random_llama()
    assert c.head_dim * c.num_heads != c.hidden_size and c.tie_word_embeddings and c.attention_bias and c.mlp_bias
    g = Generator(c, W)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    g.configure_training({"r": 2, "alpha": 3, "dropout": 0.3, "targetModules": targets}, False, False, 5)
    gen = torch.Generator().manual_seed(1)
    lora = {}
    for l in g.linears():
        l.lora_B.data.normal_(0, 0.5, generator=gen)
        lora[l.name] = (l.lora_A.detach(), l.lora_B.detach(), 1.5, 0.3)
    ids = torch.randint(0, 40, (2, 10), generator=gen)
    with torch.no_grad():
        got = F.linear(g.model(ids, rng.ForwardContext(True, 9)), g.head)
        ctx = rng.ForwardContext(True, 9)
        want = ref_llama(W, c, ids, ctx, lora)
        assert ctx.counter == 14
        assert rel(got, want) < TOL
        assert rel(got, ref_llama(W, c, ids, rng.ForwardContext(False), lora)) > 1e-3  # the masks matter


def test_rank_rows_reproduce_the_global_batch():
    """Two 'ranks' each holding one example, with the global T and row offsets, give the global batch's NLLs."""
    c, W = random_llama(seed=3, tie_word_embeddings=False)
    W["lm_head.weight"] = 0.3 * torch.randn(c.vocab_size, c.hidden_size, generator=torch.Generator().manual_seed(4))
    g = Generator(c, W)
    g.configure_training({"r": 2, "alpha": 4, "dropout": 0.25, "targetModules": ["q_proj", "down_proj"]}, False, True, 2)
    for l in g.linears():
        if l.lora_B is not None:
            l.lora_B.data.fill_(0.2)
    ex = [([1, 5, 7, 9, 2], [3, 4]), ([6, 6, 8], [11, 12, 13, 1])]
    att = (0.5, "roll")
    T = padded_length([len(p) + len(a) for p, a in ex], att)
    assert T == 8
    with torch.no_grad():
        full, _ = g.answer_tokens(ex, rng.ForwardContext(True, 21), attention=att)
        parts = [g.answer_tokens(ex[b : b + 1], rng.ForwardContext(True, 21, row_offset=b), attention=att, T=T)[0] for b in range(2)]
        assert rel(torch.cat(parts), full) < 1e-6
        assert rel(full, g.answer_tokens(ex, rng.ForwardContext(False), attention=att)[0]) > 1e-4
        # S2-Attn (ratio 1/2, rolled) changes the NLLs against full attention.
        plain, offs = g.answer_tokens(ex, None)
        shifted, _ = g.answer_tokens(ex, None, attention=att)
        assert rel(shifted, plain) > 1e-4


def test_padding_and_refusals():
    assert padded_length([13], (0.25, "roll")) == 16 and padded_length([9], (0.25, "none")) == 12
    assert padded_length([9], (0.25, "split")) == 16 and padded_length([9], None) == 9
    assert pad_batch([[1, 2], [3]], None, 7).tolist() == [[1, 2], [3, 7]]
    with pytest.raises(LlamaInputError, match="sequence 1 of the batch is empty"):
        pad_batch([[1], []], None, 0)
    c, W = random_llama(sliding_window=8)
    g = Generator(c, W)
    with pytest.raises(LlamaInputError, match="sliding attention window of 8, which MedRank does not implement"):
        g.answer_tokens([([1] * 6, [2] * 3)])
    assert g.answer_tokens([([1] * 5, [2] * 3)])[0].shape == (3,)
    with pytest.raises(LlamaInputError, match="exceed max_position_embeddings 64"):
        Generator(*random_llama()).answer_tokens([([1] * 60, [2] * 5)])
    with pytest.raises(LlamaInputError, match="outside the vocabulary of 40"):
        g.answer_tokens([([1, 40], [2])])
    with pytest.raises(LlamaInputError, match="non-empty prompt and answer"):
        g.answer_tokens([([1], [])])
    with pytest.raises(ModelConfigError, match="nothing would train"):
        g.configure_training(None, False, False, 0)
    with pytest.raises(ModelConfigError, match="full training and LoRA together"):
        g.configure_training({"r": 1, "alpha": 1, "dropout": 0, "targetModules": ["q_proj"]}, full=True)
    with pytest.raises(ModelConfigError, match="match no layer; this model's linear modules are q_proj, k_proj"):
        g.configure_training({"r": 1, "alpha": 1, "dropout": 0, "targetModules": ["query"]})
    names = {g.param_names()[p] for p in g.configure_training(None, True, False, 0)}
    assert names == {"model.embed_tokens.weight"}  # tied: no separate lm_head

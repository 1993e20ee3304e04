#!/usr/bin/env python3
"""Golden for ONE joint training step (JMLR's LLM-Rank retriever loss + the generator's answer NLL)
on the tiny fixtures, from an independent plain-PyTorch reference (float64 math on the stored
weights: tiny-colbert F32, tiny-llama BF16 widened).

Run from the repository root:  /usr/bin/python3 scripts/goldens/make_step_golden.py
Writes test/goldens/step.json. Deterministic (no random numbers at all).

The step, as src/training/step.ts / prompts.ts / models/colbert.ts run it with
retrieverLoss 'llm-rank', sampling off, retrieverSide 'both', full retriever training,
generatorContext 'concat', full attention (no S2-Attn), K = 4 candidates, n = 3 judged, m = 2 in context:
  retriever (ColBERT, hidden dropout OFF -- the TS step runs it in training mode, so a test must set
  hidden_dropout_prob 0): query = [CLS] [unused0] wordpiece(q) [SEP] + [MASK] padding to 32 (padding
  not attended, every position a query vector); doc = [CLS] [unused1] wordpiece(title + " " + text)[:61]
  [SEP], punctuation tokens dropped from the vectors; v = normalize(hidden @ linear.weight^T);
  s_k = sum_q max_d <q, d>.
  order = passages by score desc; sampled = top 3; utility = mean answer NLL given each sampled doc alone.
  L_rank = sum_{a<b} BCEWithLogits(s'_a - s'_b, [nll_b > nll_a]) / (1 + #pairs), s' = min-max scaled to [-1, 1]
  over all 4 scores (gradient through min and max).
  L_LM = mean answer NLL given the top-2 docs concatenated (prompt: BOS "context:" docs " question: q answer:",
  answer " a" + EOS; each doc " title. text" cut to docMaxTokens).
  L = L_LM + L_rank, backward: every retriever weight; generator embed_tokens, lm_head, *norm.weight.
"""

import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model_fixtures import (  # noqa: E402  (the module only writes files from main())
    BPE_MERGES, ByteBPE, bert_basic_tokenize, bert_forward, colbert_head, llama_forward, wordpiece, write_json)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "test", "fixtures", "models")
OUT = os.path.join(ROOT, "test", "goldens", "step.json")

QUERY_MAX_LEN, DOC_MAX_LEN = 32, 64  # ColBERT defaults; docMaxLen = min(180, max_position_embeddings 64)
K, N_SAMPLED, TOP_M, DOC_MAX_TOKENS = 4, 3, 2, 24
PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'

QUESTION = "What is the most common cause of chest pain?"
ANSWER = "heart disease"
PASSAGES = [
    {"id": "p0", "title": "Heart", "text": "Chest pain is a common symptom of heart disease."},
    {"id": "p1", "title": "Diabetes", "text": "Insulin and diet lower blood sugar."},
    {"id": "p2", "title": "Asthma", "text": "Asthma may cause cough and chest pain."},
    {"id": "p3", "title": "Fever", "text": "Fever is a symptom of infection by virus or bacteria."},
]


def read_safetensors(path):
    """{name: float64 tensor} of an F32 / BF16 / F16 safetensors file (values as stored, widened)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        raw = data[a:b]
        if h["dtype"] == "F32":
            arr = np.frombuffer(raw, "<f4").astype(np.float32)
        elif h["dtype"] == "F16":
            arr = np.frombuffer(raw, "<f2").astype(np.float32)
        elif h["dtype"] == "BF16":
            arr = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError(h["dtype"])
        out[name] = torch.from_numpy(arr.reshape(h["shape"]).copy()).to(torch.float64)
    return out


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# --- tokenizers ----------------------------------------------------------------------------------

bert_cfg = load_json(os.path.join(FIX, "tiny-colbert", "config.json"))
bert_vocab = load_json(os.path.join(FIX, "tiny-colbert", "tokenizer.json"))["model"]["vocab"]
llama_cfg = load_json(os.path.join(FIX, "tiny-llama", "config.json"))
llama_tj = load_json(os.path.join(FIX, "tiny-llama", "tokenizer.json"))
llama_tok = ByteBPE("tiny-llama", True, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], BPE_MERGES, max_digits=3,
                    nfc=False, bos="<|endoftext|>")
assert llama_tok.base_vocab == llama_tj["model"]["vocab"], "the fixture's BPE vocab differs from make_model_fixtures'"
BOS = EOS = llama_tok.vocab["<|endoftext|>"]
assert BOS == llama_cfg["bos_token_id"] == llama_cfg["eos_token_id"] == 0


def wp(text):
    """WordPiece ids without special tokens (text has no literal special tokens here)."""
    toks = [t for w in bert_basic_tokenize(text) for t in wordpiece(w, bert_vocab)]
    assert "[UNK]" not in toks, (text, toks)
    return [bert_vocab[t] for t in toks]


def enc(text):
    """Llama ids without special tokens."""
    ids = llama_tok.encode(text)[1]
    assert ids[0] == BOS
    return ids[1:]


def query_ids(q):
    body = wp(q)[:QUERY_MAX_LEN - 3]
    seq = [bert_vocab["[CLS]"], bert_vocab["[unused0]"], *body, bert_vocab["[SEP]"]]
    return seq + [bert_vocab["[MASK]"]] * (QUERY_MAX_LEN - len(seq)), len(seq)


def doc_ids(p):
    text = f"{p['title']} {p['text']}" if p["title"] else p["text"]
    return [bert_vocab["[CLS]"], bert_vocab["[unused1]"], *wp(text)[:DOC_MAX_LEN - 3], bert_vocab["[SEP]"]]


PUNCT_IDS = {bert_vocab[c] for c in PUNCTUATION if c in bert_vocab}


def doc_tokens(p):
    return enc(f" {p['title']}. {p['text']}" if p["title"] else f" {p['text']}")[:DOC_MAX_TOKENS]


def prompt(q, docs):
    ctx = (enc("context:") + [t for d in docs for t in doc_tokens(d)]) if docs else []
    return [BOS] + ctx + enc(f"{' ' if docs else ''}question: {q} answer:")


def answer_ids(a):
    return enc(" " + a) + [EOS]


# --- models --------------------------------------------------------------------------------------

def retriever_scores(W, q_ids, q_len, d_ids):
    """Scores [K] (differentiable w.r.t. W) of one query against the docs, encoded in one padded batch."""
    qi = torch.tensor([q_ids])
    qmask = torch.zeros(1, QUERY_MAX_LEN, dtype=torch.float64)
    qmask[0, :q_len] = 1
    Q = colbert_head(bert_forward(W, bert_cfg, qi, torch.zeros_like(qi), qmask), W["linear.weight"])[0]  # [32, dim]
    T = max(len(d) for d in d_ids)
    ids = torch.full((len(d_ids), T), bert_cfg["pad_token_id"], dtype=torch.long)
    mask = torch.zeros(len(d_ids), T, dtype=torch.float64)
    for b, d in enumerate(d_ids):
        ids[b, :len(d)] = torch.tensor(d)
        mask[b, :len(d)] = 1
    hidden = bert_forward(W, bert_cfg, ids, torch.zeros_like(ids), mask)
    scores = []
    for b, d in enumerate(d_ids):
        keep = [t for t, tok in enumerate(d) if tok not in PUNCT_IDS]
        Dv = colbert_head(hidden[b, keep], W["linear.weight"])  # [kept, dim]
        scores.append((Q @ Dv.T).max(dim=1).values.sum())
    return torch.stack(scores)


def answer_nll(W, p_ids, a_ids):
    """Per-token NLL [len(a)] of the answer after the prompt (full causal attention)."""
    ids = torch.tensor([p_ids + a_ids])
    assert ids.shape[1] <= llama_cfg["max_position_embeddings"], ids.shape
    logits = llama_forward(W, llama_cfg, ids)[0]
    P = len(p_ids)
    logp = torch.log_softmax(logits[P - 1:P - 1 + len(a_ids)], dim=-1)
    return -logp[torch.arange(len(a_ids)), torch.tensor(a_ids)]


def llm_rank_loss(s, sampled, nll):
    lo, hi = s.min(), s.max()
    sp = 2 * (s - lo) / (hi - lo) - 1
    n = len(sampled)
    pairs = n * (n - 1) // 2
    terms = []
    for a in range(n):
        for b in range(a + 1, n):
            x = sp[sampled[a]] - sp[sampled[b]]
            y = torch.tensor(1.0 if nll[b] > nll[a] else 0.0, dtype=torch.float64)
            terms.append(torch.nn.functional.binary_cross_entropy_with_logits(x, y))
    return torch.stack(terms).sum() / (1 + pairs)


def f32s(t):
    """Shortest decimal that reads back as the float32 value (compact; TS computes in float32)."""
    return [float(repr(np.float32(v))) for v in t.detach().reshape(-1).tolist()]


def main():
    torch.set_num_threads(1)
    Wr = read_safetensors(os.path.join(FIX, "tiny-colbert", "model.safetensors"))
    Wg = read_safetensors(os.path.join(FIX, "tiny-llama", "model.safetensors"))
    for t in Wr.values():
        t.requires_grad_(True)  # full retriever training: every weight
    g_train = [n for n in Wg if n in ("model.embed_tokens.weight", "lm_head.weight") or n.endswith("norm.weight")]
    for n in g_train:
        Wg[n].requires_grad_(True)

    q_ids, q_len = query_ids(QUESTION)
    d_ids = [doc_ids(p) for p in PASSAGES]
    a_ids = answer_ids(ANSWER)

    # 1-2. scores with gradient (documents re-encoded), candidates in score order, top n judged
    s = retriever_scores(Wr, q_ids, q_len, d_ids)
    sv = s.detach().tolist()
    order = sorted(range(K), key=lambda i: (-sv[i], i))
    sampled = order[:N_SAMPLED]

    # padding must not change results: each doc alone gives the same score
    with torch.no_grad():
        alone = [float(retriever_scores(Wr, q_ids, q_len, [d])[0]) for d in d_ids]
    assert max(abs(x - y) for x, y in zip(alone, sv)) < 1e-12, (alone, sv)

    # 3. utility without gradient
    util_prompts = [prompt(QUESTION, [PASSAGES[i]]) for i in sampled]
    with torch.no_grad():
        nll_mean = [float(answer_nll(Wg, p, a_ids).mean()) for p in util_prompts]

    # 4. losses
    loss_rank = llm_rank_loss(s, sampled, nll_mean)
    lm_prompt = prompt(QUESTION, [PASSAGES[i] for i in order[:TOP_M]])
    loss_lm = answer_nll(Wg, lm_prompt, a_ids).mean()
    (loss_lm + loss_rank).backward()

    # the checks the brief asks for: distinct scores and utilities, a non-trivial ranking
    ss = sorted(sv)
    gap = min(b - a for a, b in zip(ss, ss[1:]))
    nn = sorted(nll_mean)
    ngap = min(b - a for a, b in zip(nn, nn[1:]))
    ys = [nll_mean[b] > nll_mean[a] for a in range(N_SAMPLED) for b in range(a + 1, N_SAMPLED)]
    assert gap > 1e-3, f"scores too close: {sv}"
    assert ngap > 1e-3, f"utilities too close: {nll_mean}"
    assert not all(ys), "the score order is already the utility order"

    rows = sorted(set(a_ids))
    golden = {
        "question": QUESTION,
        "answer": ANSWER,
        "passages": PASSAGES,
        "docMaxTokens": DOC_MAX_TOKENS,
        "queryIds": q_ids,
        "docIds": d_ids,
        "promptIds": {"utility": util_prompts, "lm": lm_prompt},
        "answerIds": a_ids,
        "scores": sv,
        "order": order,
        "nllMean": nll_mean,
        "lossRank": float(loss_rank),
        "lossLM": float(loss_lm),
        "grads": {
            "retriever:linear.weight": f32s(Wr["linear.weight"].grad),
            "retriever:bert.encoder.layer.1.output.dense.weight": f32s(Wr["bert.encoder.layer.1.output.dense.weight"].grad),
            "generator:model.norm.weight": f32s(Wg["model.norm.weight"].grad),
            "generator:model.layers.0.input_layernorm.weight": f32s(Wg["model.layers.0.input_layernorm.weight"].grad),
            "generator:lm_head.weight_rows": {"rows": rows, "values": [f32s(Wg["lm_head.weight"].grad[r]) for r in rows]},
        },
    }
    write_json(OUT, golden)

    toks = {i: t for t, i in bert_vocab.items()}
    print("query tokens:", [toks[i] for i in q_ids[:q_len]], f"+ {QUERY_MAX_LEN - q_len} [MASK]")
    for p, d in zip(PASSAGES, d_ids):
        print(f"doc {p['id']}: {len(d)} tokens, kept {sum(t not in PUNCT_IDS for t in d)};",
              f"llama doc tokens {len(enc(' ' + p['title'] + '. ' + p['text']))} (cut to {DOC_MAX_TOKENS})")
    print("scores:", sv, "min gap", gap)
    print("order:", order, "sampled:", sampled)
    print("utility prompt lengths:", [len(p) for p in util_prompts], "lm prompt length:", len(lm_prompt),
          "answer ids:", a_ids)
    print("nllMean (sampled order):", nll_mean, "y pairs:", ys)
    print(f"lossRank {float(loss_rank):.10f}  lossLM {float(loss_lm):.10f}")
    print(f"wrote {os.path.relpath(OUT, ROOT)} ({os.path.getsize(OUT) / 1024:.1f} KiB)")


if __name__ == "__main__":
    main()

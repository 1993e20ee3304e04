#!/usr/bin/env python3
"""
Goldens for ONE joint training step (the retriever loss + the generator's answer NLL) on the tiny
fixtures, from an independent plain-PyTorch reference (float64 math on the stored weights:
tiny-colbert F32, tiny-gptneox F16 and tiny-llama BF16 widened). No random numbers at all.

Run from the repository root:  /usr/bin/python3 scripts/goldens/make_step_golden.py
Writes:
  test/goldens/step.json              the LLM-Rank step below with the ColBERT retriever
  test/goldens/step-losses.json       the same step once per retriever loss of RETRIEVER_LOSSES (LOSS_CASES), ColBERT
  test/goldens/step-losses-dense.json the same cases with the DENSE retriever (BMRetriever style) on tiny-gptneox
  test/goldens/eval.json              evaluate() on test/fixtures/tiny-qa with ColBERT and the generator (eval_golden)

The retriever is a pluggable piece (section "retrievers"): an object that turns the question and the
passages into token ids and scores them, differentiably w.r.t. its weights W. Everything else -- the
candidates, the judged documents, the utilities, the losses, the LM loss -- is shared.

step-losses*.json, per loss: the candidates (InfoNCE: the gold passage first), their scores, the judged
documents' mean answer NLL (the utility a StepRecord holds), the retriever loss of the question and its
gradient d loss / d scores over the K candidates (autograd through the formulas of methods.md and
docs/training.md, written with torch's own softmax / KL / logsumexp / cross-entropy), the LM loss, and the
gradients of two retriever weights (lossGrads). The generator's gradients are step.json's in every case
that trains the generator (the retriever loss is detached from it; 'none', the frozen-retriever baseline,
is checked to give them exactly) -- unless the dense retriever puts other documents (or another order) in
the LM prompt's top m, in which case step-losses-dense.json carries its own "generatorGrads" (step.json's
format) and "promptIds".

The step, as src/training/step.ts / prompts.ts / models/colbert.ts / models/dense.ts run it with
retrieverLoss 'llm-rank', sampling off, retrieverSide 'both', full retriever training,
generatorContext 'concat', full attention (no S2-Attn), K = 4 candidates, n = 3 judged, m = 2 in context:
  retriever, ColBERT (hidden dropout OFF -- the TS step runs it in training mode, so a test must set
  hidden_dropout_prob 0): query = [CLS] [unused0] wordpiece(q) [SEP] + [MASK] padding to 32 (padding
  not attended, every position a query vector); doc = [CLS] [unused1] wordpiece(title + " " + text)[:61]
  [SEP], punctuation tokens dropped from the vectors; v = normalize(hidden @ linear.weight^T);
  s_k = sum_q max_d <q, d>.
  retriever, dense (tiny-gptneox, DENSE_DEFAULTS of dense.ts, no dropout): text = the query template
  (DENSE_QUERY_TEMPLATE) or the doc template (DENSE_DOC_TEMPLATE, around title + " " + text); ids = the
  tokenizer's ids (no special tokens for this tokenizer) cut to maxLen - 1 = 127, then EOS (id 0);
  right-padded batch (pad 0, causal attention, so padding is never read); v = the final_layer_norm hidden
  state at the last real token (the EOS), not normalised; s_k = <q, d_k>.
  order = passages by score desc; sampled = top 3; utility = mean answer NLL given each sampled doc alone.
  L_rank = sum_{a<b} BCEWithLogits(s'_a - s'_b, [nll_b > nll_a]) / (1 + #pairs), s' = min-max scaled to [-1, 1]
  over all 4 scores (gradient through min and max).
  L_LM = mean answer NLL given the top-2 docs concatenated (prompt: BOS "context:" docs " question: q answer:",
  answer " a" + EOS; each doc " title. text" cut to docMaxTokens).
  L = L_LM + L_rank, backward: every retriever weight; generator embed_tokens, lm_head, *norm.weight.
"""

import json
import os
import re
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model_fixtures import (  # noqa: E402  (the module only writes files from main())
    BPE_MERGES, NEOX_MERGES, ByteBPE, bert_basic_tokenize, bert_forward, colbert_head, gpt2_split, gptneox_forward,
    llama_forward, regex_split, wordpiece, write_json)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "test", "fixtures", "models")
OUT = os.path.join(ROOT, "test", "goldens", "step.json")
OUT_LOSSES = os.path.join(ROOT, "test", "goldens", "step-losses.json")
OUT_EVAL = os.path.join(ROOT, "test", "goldens", "eval.json")
OUT_DENSE = os.path.join(ROOT, "test", "goldens", "step-losses-dense.json")
DENSE_FIXTURE_GOLDEN = os.path.join(ROOT, "test", "goldens", "models", "tiny-gptneox.safetensors")

QUERY_MAX_LEN, DOC_MAX_LEN = 32, 64  # ColBERT defaults; docMaxLen = min(180, max_position_embeddings 64)
K, N_SAMPLED, TOP_M, DOC_MAX_TOKENS = 4, 3, 2, 24
PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'
# src/models/dense.ts DENSE_DEFAULTS: last-token pooling, EOS appended, maxLen min(256, max positions).
DENSE_QUERY_TEMPLATE = "Given a medical question, retrieve passages that help answer it\nQuery: {text}"
DENSE_DOC_TEMPLATE = "Represent this passage\npassage: {text}"
DENSE_MAX_LEN, DENSE_PAD = 256, 0

QUESTION = "What is the most common cause of chest pain?"
ANSWER = "heart disease"
PASSAGES = [
    {"id": "p0", "title": "Heart", "text": "Chest pain is a common symptom of heart disease."},
    {"id": "p1", "title": "Diabetes", "text": "Insulin and diet lower blood sugar."},
    {"id": "p2", "title": "Asthma", "text": "Asthma may cause cough and chest pain."},
    {"id": "p3", "title": "Fever", "text": "Fever is a symptom of infection by virus or bacteria."},
]


def read_safetensors(path):
    """{name: float64 tensor} of an F32 / BF16 / F16 safetensors file (values as stored, widened);
    I32 tensors come back as int64."""
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
        elif h["dtype"] == "I32":
            out[name] = torch.from_numpy(np.frombuffer(raw, "<i4").astype(np.int64).reshape(h["shape"]).copy())
            continue
        else:
            raise ValueError(h["dtype"])
        out[name] = torch.from_numpy(arr.reshape(h["shape"]).copy()).to(torch.float64)
    return out


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# --- the generator: tiny-llama, its tokenizer, the prompts and the answer NLL ---------------------

llama_cfg = load_json(os.path.join(FIX, "tiny-llama", "config.json"))
llama_tj = load_json(os.path.join(FIX, "tiny-llama", "tokenizer.json"))
llama_tok = ByteBPE("tiny-llama", True, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], BPE_MERGES, lambda t: regex_split(t, 3),
                    nfc=False, bos="<|endoftext|>")
assert llama_tok.base_vocab == llama_tj["model"]["vocab"], "the fixture's BPE vocab differs from make_model_fixtures'"
BOS = EOS = llama_tok.vocab["<|endoftext|>"]
assert BOS == llama_cfg["bos_token_id"] == llama_cfg["eos_token_id"] == 0


def enc(text):
    """Llama ids without special tokens."""
    ids = llama_tok.encode(text)[1]
    assert ids[0] == BOS
    return ids[1:]


def doc_tokens(p):
    return enc(f" {p['title']}. {p['text']}" if p["title"] else f" {p['text']}")[:DOC_MAX_TOKENS]


def prompt(q, docs):
    ctx = (enc("context:") + [t for d in docs for t in doc_tokens(d)]) if docs else []
    return [BOS] + ctx + enc(f"{' ' if docs else ''}question: {q} answer:")


def answer_ids(a):
    return enc(" " + a) + [EOS]


def answer_nll(W, p_ids, a_ids):
    """Per-token NLL [len(a)] of the answer after the prompt (full causal attention)."""
    ids = torch.tensor([p_ids + a_ids])
    assert ids.shape[1] <= llama_cfg["max_position_embeddings"], ids.shape
    logits = llama_forward(W, llama_cfg, ids)[1][0]
    P = len(p_ids)
    logp = torch.log_softmax(logits[P - 1:P - 1 + len(a_ids)], dim=-1)
    return -logp[torch.arange(len(a_ids)), torch.tensor(a_ids)]


def doc_text(p):
    """The text a retriever indexes: title + " " + text (the text alone without a title)."""
    return f"{p['title']} {p['text']}" if p["title"] else p["text"]


# --- retrievers -----------------------------------------------------------------------------------
# A retriever is an object with
#   name, W (its weights {name: float64 tensor}, all trainable), loss_grads (the two tensors a golden keeps),
#   query(q) -> the encoded question, docs(passages) -> the encoded passages,
#   scores(qe, des) -> tensor [len(des)], differentiable w.r.t. W (the documents in one padded batch),
#   meta(qe, des) -> the golden's top-level fields describing the encoding.
# The step code below only ever calls these.

# --- retriever: ColBERT (tiny-colbert) ------------------------------------------------------------

bert_cfg = load_json(os.path.join(FIX, "tiny-colbert", "config.json"))
bert_vocab = load_json(os.path.join(FIX, "tiny-colbert", "tokenizer.json"))["model"]["vocab"]


def wp(text):
    """WordPiece ids without special tokens (text has no literal special tokens here)."""
    toks = [t for w in bert_basic_tokenize(text) for t in wordpiece(w, bert_vocab)]
    assert "[UNK]" not in toks, (text, toks)
    return [bert_vocab[t] for t in toks]


def query_ids(q):
    body = wp(q)[:QUERY_MAX_LEN - 3]
    seq = [bert_vocab["[CLS]"], bert_vocab["[unused0]"], *body, bert_vocab["[SEP]"]]
    return seq + [bert_vocab["[MASK]"]] * (QUERY_MAX_LEN - len(seq)), len(seq)


def doc_ids(p):
    return [bert_vocab["[CLS]"], bert_vocab["[unused1]"], *wp(doc_text(p))[:DOC_MAX_LEN - 3], bert_vocab["[SEP]"]]


PUNCT_IDS = {bert_vocab[c] for c in PUNCTUATION if c in bert_vocab}


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


class ColbertRetriever:
    name = "tiny-colbert"
    loss_grads = ["linear.weight", "bert.encoder.layer.0.attention.self.query.weight"]

    def __init__(self):
        self.W = read_safetensors(os.path.join(FIX, "tiny-colbert", "model.safetensors"))

    def query(self, q):
        return query_ids(q)  # (ids padded to 32 with [MASK], real length)

    def docs(self, passages):
        return [doc_ids(p) for p in passages]

    def scores(self, qe, des):
        return retriever_scores(self.W, qe[0], qe[1], des)

    def meta(self, qe, des):
        return {"queryIds": qe[0], "docIds": des}


# --- retriever: dense, BMRetriever style (tiny-gptneox) -------------------------------------------

neox_cfg = load_json(os.path.join(FIX, "tiny-gptneox", "config.json"))
neox_tok = ByteBPE("tiny-gptneox", True, ["<|endoftext|>", "<|padding|>"], NEOX_MERGES, gpt2_split, nfc=True, bos=None)
assert neox_tok.base_vocab == load_json(os.path.join(FIX, "tiny-gptneox", "tokenizer.json"))["model"]["vocab"], \
    "the fixture's GPT-NeoX vocab differs from make_model_fixtures'"
NEOX_EOS = neox_tok.vocab["<|endoftext|>"]
assert NEOX_EOS == neox_cfg["eos_token_id"] == 0


class DenseRetriever:
    """src/models/dense.ts with DENSE_DEFAULTS: the template around the text, the tokenizer's ids (with
    its special tokens: none for this one) cut to maxLen - 1, EOS appended; the vector is the
    final_layer_norm state at the last real token; score = dot product."""
    name = "tiny-gptneox"
    loss_grads = ["gpt_neox.final_layer_norm.weight", "gpt_neox.layers.1.attention.dense.weight"]

    def __init__(self):
        self.W = read_safetensors(os.path.join(FIX, "tiny-gptneox", "model.safetensors"))
        self.max_len = min(DENSE_MAX_LEN, neox_cfg["max_position_embeddings"])

    def ids(self, text):
        return neox_tok.encode(text)[1][:self.max_len - 1] + [NEOX_EOS]

    def query(self, q):
        return self.ids(DENSE_QUERY_TEMPLATE.replace("{text}", q))

    def docs(self, passages):
        return [self.ids(DENSE_DOC_TEMPLATE.replace("{text}", doc_text(p))) for p in passages]

    def embed(self, seqs):
        """Pooled vectors [B, D] of token sequences, one right-padded batch (causal: pads are never read)."""
        T = max(len(x) for x in seqs)
        ids = torch.full((len(seqs), T), DENSE_PAD, dtype=torch.long)
        for b, x in enumerate(seqs):
            ids[b, :len(x)] = torch.tensor(x)
        hidden, _ = gptneox_forward(self.W, neox_cfg, ids)
        return hidden[torch.arange(len(seqs)), torch.tensor([len(x) - 1 for x in seqs])]

    def scores(self, qe, des):
        return self.embed(des) @ self.embed([qe])[0]

    def meta(self, qe, des):
        return {"templates": {"query": DENSE_QUERY_TEMPLATE, "doc": DENSE_DOC_TEMPLATE}, "maxLen": self.max_len,
                "eos": NEOX_EOS, "pooling": "last", "queryIds": qe, "docIds": des}

    def check_fixture_golden(self):
        """The forward and pooling above reproduce the fixture golden's pooled_last (and its ids)."""
        g = read_safetensors(DENSE_FIXTURE_GOLDEN)
        with open(DENSE_FIXTURE_GOLDEN, "rb") as f:
            meta = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))["__metadata__"]
        texts = [p + a for p, a in zip(json.loads(meta["prompts"]), json.loads(meta["answers"]))]
        seqs = [g["input_ids"][b, :n].tolist() for b, n in enumerate(g["lengths"].tolist())]
        assert seqs == [neox_tok.encode(t)[1] for t in texts], "the GPT-NeoX tokenizer disagrees with the fixture golden"
        with torch.no_grad():
            pooled = self.embed(seqs)
        diff = float((pooled.to(torch.float32).to(torch.float64) - g["pooled_last"]).abs().max())
        assert diff <= 1e-6 * float(g["pooled_last"].abs().max()), diff
        return diff


# --- every retriever loss of RETRIEVER_LOSSES, from the formulas (methods.md, docs/training.md) ---
# Each takes the K scores (a tensor with gradient, candidate order), the judged candidates S (draw
# order) and what the generator said about them (detached), and returns the question's loss.
# Written with torch's own softmax / KL / logsumexp / cross-entropy (autograd gives d loss / d s).

F = torch.nn.functional


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



def kl_target_scores(target, scores, tau):
    """KL(target || softmax(scores / tau)), the target fixed (kl_div's input is the log-probabilities)."""
    return F.kl_div(F.log_softmax(scores / tau, dim=0), target.detach(), reduction="sum")


def min_max(s):
    return 2 * (s - s.min()) / (s.max() - s.min()) - 1


def peer_loss(name, s, S, u, cfg):
    """(loss, weight) of retriever loss `name` for one question; u holds the detached utilities."""
    idx = torch.tensor(S)
    t = lambda xs: torch.tensor(xs, dtype=torch.float64)  # noqa: E731
    if name == "llm-rank":
        return llm_rank_loss(s, S, u["nllMean"]), 1
    if name == "listwise":  # KL(softmax(-NLL / tauG) || softmax(s'_S / tauS)), s' min-max scaled over all K
        return kl_target_scores(torch.softmax(-t(u["nllMean"]) / cfg["tauG"], 0), min_max(s)[idx], cfg["tauS"]), 1
    if name == "jomed":  # g_i = log-softmax over the options' log-likelihoods given d_i, at the gold option
        ll = t(u["optionLoglik"])  # [n, options]
        g = torch.log_softmax(ll, dim=1)[:, u["gold"]]
        w = 0 if len(set(ll.argmax(dim=1).tolist())) == 1 else 1  # every document predicts the same option
        if not cfg["jomedWeighting"]:
            w = 1
        return w * kl_target_scores(torch.softmax(g / cfg["tauG"], 0), s[idx], cfg["tauS"]) / max(w, 1), w
    if name == "pdist":  # Atlas: g = -mean NLL, one tau (tauS) for both sides
        return kl_target_scores(torch.softmax(-t(u["nllMean"]) / cfg["tauS"], 0), s[idx], cfg["tauS"]), 1
    if name == "loop":  # Atlas: g = NLL given all judged documents but d_i
        return kl_target_scores(torch.softmax(t(u["nllWithout"]) / cfg["tauS"], 0), s[idx], cfg["tauS"]), 1
    if name == "emdr2":  # -sum_t log sum_i softmax(s_S)_i p(y_t | d_i)
        logp = -t(u["perTokenNll"])  # [n, T]
        return -torch.logsumexp(torch.log_softmax(s[idx], 0)[:, None] + logp, dim=0).sum(), 1
    if name == "replug":  # KL(softmax(log p(y | d_i) / tauG) || softmax(s / tauS)), log p = SUM over answer tokens
        return kl_target_scores(torch.softmax(-t(u["nllSum"]) / cfg["tauG"], 0), s[idx], cfg["tauS"]), 1
    if name == "rag-marginal":  # -log sum_i softmax(s_S)_i p(y | d_i)
        return -torch.logsumexp(torch.log_softmax(s[idx], 0) - t(u["nllSum"]), dim=0), 1
    if name == "infonce":  # -log softmax(s / tau)[gold], the gold passage is candidate 0
        return F.cross_entropy((s / cfg["infoNceTau"])[None], torch.tensor([0])), 1
    raise ValueError(name)


def f32s(t):
    """Shortest decimal that reads back as the float32 value (compact; TS computes in float32)."""
    return [float(repr(np.float32(v))) for v in t.detach().reshape(-1).tolist()]


# --- one step per retriever loss ------------------------------------------------------------------

# The TS config's defaults for what the cases leave out (src/training/config.ts DEFAULT_CONFIG).
LOSS_DEFAULTS = {"schedule": "synchronous", "tauS": 1.0, "tauG": 1.0, "jomedWeighting": True, "infoNceTau": 0.05}
# (retrieverLoss, config overrides, question overrides). tauS != tauG where both appear, so a swap shows.
# JOMED needs answer options (the options are scored, the answer is the first, the LM loss unchanged);
# InfoNCE trains the retriever alone and needs a gold passage (p2, not the top-scored one);
# 'none' is the frozen-retriever RAG baseline: the generator's loss alone.
LOSS_CASES = [
    ("llm-rank", {}, {}),
    ("listwise", {"tauS": 0.5, "tauG": 0.1}, {}),
    ("jomed", {"tauS": 0.5, "tauG": 2.0},
     {"kind": "multiple-choice", "options": [ANSWER, "heart diseases"], "answerIndex": 0}),
    ("pdist", {"tauS": 0.2}, {}),
    ("loop", {"tauS": 0.2}, {}),
    ("emdr2", {}, {}),
    ("replug", {"tauS": 0.5, "tauG": 2.0}, {}),
    ("rag-marginal", {}, {}),
    ("infonce", {"schedule": "retriever-only", "infoNceTau": 0.5}, {"goldDocIds": ["p2"]}),
    ("none", {"schedule": "frozen-retriever"}, {}),
]


def judge(Wg, docs, name, qx):
    """What the generator says about the judged documents (draw order), without gradient."""
    with torch.no_grad():
        per = [answer_nll(Wg, prompt(QUESTION, [d]), answer_ids(ANSWER)) for d in docs]
        u = {"nllMean": [float(x.mean()) for x in per], "nllSum": [float(x.sum()) for x in per],
             "perTokenNll": [x.tolist() for x in per]}
        if name == "jomed":
            u["optionLoglik"] = [[-float(answer_nll(Wg, prompt(QUESTION, [d]), answer_ids(o)).sum())
                                  for o in qx["options"]] for d in docs]
            u["gold"] = qx["answerIndex"]
        if name == "loop":
            u["nllWithout"] = [float(answer_nll(Wg, prompt(QUESTION, [d for j, d in enumerate(docs) if j != i]),
                                                answer_ids(ANSWER)).mean()) for i in range(len(docs))]
    return u


def retriever_losses_ts():
    """RETRIEVER_LOSSES as src/training/config.ts lists them (a loss added there must get a case here)."""
    with open(os.path.join(ROOT, "src", "training", "config.ts"), encoding="utf-8") as f:
        m = re.search(r"RETRIEVER_LOSSES = \[(.*?)\] as const", f.read(), re.S)
    return re.findall(r"'([^']+)'", m.group(1))


def loss_cases(R, Wg, qe, des, base):
    """One step per retriever loss with retriever R (qe, des: its encoded question and passages);
    base: the LLM-Rank step's lossLM and generator gradients with the same retriever."""
    Wr = R.W
    print(f"{R.name}, one step per retriever loss:")
    names = [c[0] for c in LOSS_CASES]
    assert sorted(names) == sorted(retriever_losses_ts()), (names, retriever_losses_ts())
    cases = {}
    for name, over, qx in LOSS_CASES:
        cfg = {**LOSS_DEFAULTS, **over}
        trains_r, trains_g = cfg["schedule"] != "frozen-retriever", cfg["schedule"] != "retriever-only"
        for t in list(Wr.values()) + list(Wg.values()):
            t.grad = None
        for t in Wr.values():
            t.requires_grad_(trains_r)
        s_all = R.scores(qe, des)  # passage order
        sv = s_all.detach().tolist()
        by_score = sorted(range(K), key=lambda i: (-sv[i], i))
        if name == "infonce":  # the gold passage first, then the K-1 best others (hard negatives)
            gold = [p["id"] for p in PASSAGES].index(qx["goldDocIds"][0])
            cand = [gold] + [i for i in by_score if i != gold][:K - 1]
        else:
            cand = by_score
        s = s_all[torch.tensor(cand)]  # candidate order, with gradient when the retriever trains
        cs = s.detach().tolist()
        top = sorted(range(K), key=lambda i: (-cs[i], i))
        case = {"loss": name, "config": over, "question": qx, "candidates": cand, "scores": cs}
        if trains_r and name not in ("infonce", "none"):
            S = top[:N_SAMPLED]  # sampling off: the top n by score
            u = judge(Wg, [PASSAGES[cand[i]] for i in S], name, qx)
            case.update(sampled=S, utility=u["nllMean"])
            inputs = {k: u[k] for k in ("nllSum", "optionLoglik", "nllWithout") if k in u}
        else:
            S, u, inputs = [], None, {}
            case.update(sampled=[], utility=None)
        if trains_r:
            loss_r, w = peer_loss(name, s, S, u, cfg)
            (gs,) = torch.autograd.grad(loss_r, s, retain_graph=True)
            loss_r.backward()
            case.update(inputs=inputs, weight=w, lossRetriever=float(loss_r), scoreGrad=gs.tolist(),
                        grads={f"retriever:{n}": f32s(Wr[n].grad) for n in R.loss_grads})
        else:
            case.update(inputs=inputs, weight=None, lossRetriever=None, scoreGrad=None, grads={})
        if trains_g:
            lm_docs = [PASSAGES[cand[i]] for i in top[:TOP_M]]
            loss_lm = answer_nll(Wg, prompt(QUESTION, lm_docs), answer_ids(ANSWER)).mean()
            assert abs(float(loss_lm) - base["lossLM"]) < 1e-12, (name, float(loss_lm), base["lossLM"])
            if name == "none":  # the frozen-retriever step: the generator's gradients are the LM loss's alone
                loss_lm.backward()
                for n, g in base["grads"].items():
                    assert torch.allclose(Wg[n].grad, g, rtol=0, atol=1e-12), n
            case["lossLM"] = float(loss_lm)
        else:
            case["lossLM"] = None
        if case["scoreGrad"] is not None:
            assert max(abs(x) for x in case["scoreGrad"]) > 1e-3, (name, case["scoreGrad"])
        if name == "jomed":
            assert w == 1, f"every document predicts the same option: {inputs['optionLoglik']}"
        cases[name] = case
        print(f"{name:>12}: loss {case['lossRetriever']} (w {case['weight']}) scoreGrad {case['scoreGrad']}"
              f" lossLM {case['lossLM']}")
    for t in Wr.values():
        t.requires_grad_(True)
    return cases


# --- evaluation on the tiny QA fixture ------------------------------------------------------------

QA = os.path.join(ROOT, "test", "fixtures", "tiny-qa")
EVAL_TOP_M, EVAL_ALIGN, EVAL_KS, EVAL_DOC_MAX_TOKENS = 2, 3, [1, 5], 12  # as test/gpu/training.test.ts asks
YES_NO_MAYBE = ["yes", "no", "maybe"]


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def avg_ranks(x):
    order = sorted(range(len(x)), key=lambda i: x[i])
    assert all(x[a] != x[b] for a, b in zip(order, order[1:])), f"ties in {x}"
    r = [0.0] * len(x)
    for rank, i in enumerate(order):
        r[i] = rank + 1.0
    return r


def spearman_rho(a, b):
    ra, rb = np.array(avg_ranks(a)), np.array(avg_ranks(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def kendall_tau(a, b):
    n = len(a)
    sgn = [np.sign(a[i] - a[j]) * np.sign(b[i] - b[j]) for i in range(n) for j in range(i + 1, n)]
    return float(sum(sgn) / len(sgn))  # no ties (checked by avg_ranks): tau-a = tau-b


def eval_golden(R, Wg):
    """Accuracy (no documents, the top m retrieved, the gold ones) by lowest mean option NLL, recall@k,
    MRR@10 and the score/utility alignment of MedRank's evaluate() on tiny-qa, with the fixed models
    (retriever R)."""
    global DOC_MAX_TOKENS
    corpus = read_jsonl(os.path.join(QA, "corpus.jsonl"))
    qs = read_jsonl(os.path.join(QA, "questions.jsonl"))
    ids = [p["id"] for p in corpus]
    saved, DOC_MAX_TOKENS = DOC_MAX_TOKENS, EVAL_DOC_MAX_TOKENS
    depth = max(EVAL_ALIGN, EVAL_TOP_M, *EVAL_KS)
    out, right, rho, tau, rr = [], {"none": 0, "retrieved": 0, "oracle": 0}, [], [], []
    recall = {k: [] for k in EVAL_KS}
    with torch.no_grad():
        d_ids = R.docs(corpus)
        for q in qs:
            # what the JSONL says: options + answer text or letter; else yes/no/maybe
            if q.get("options"):
                opts = q["options"]
                a = q["answer"]
                gold_opt = opts.index(a) if a in opts else "ABCDEFGHIJ".index(a)
            else:
                opts, gold_opt = YES_NO_MAYBE, YES_NO_MAYBE.index(q["answer"].strip().lower())
            answer = opts[gold_opt]
            sc = R.scores(R.query(q["question"]), d_ids).tolist()
            rank = sorted(range(len(ids)), key=lambda i: (-sc[i], i))
            srt = sorted(sc, reverse=True)
            gap = min(x - y for x, y in zip(srt[:depth + 1], srt[1:depth + 1]))
            assert gap > 1e-3, f"near-tie in the ranking of {q['id']}: {sc}"
            found = rank[:depth]
            gold = q.get("gold_doc_ids") or []
            conds = {"none": [], "retrieved": [corpus[i] for i in found[:EVAL_TOP_M]],
                     "oracle": [corpus[ids.index(g)] for g in gold[:EVAL_TOP_M]]}
            pred, margin = {}, {}
            for k, docs in conds.items():
                m = [float(answer_nll(Wg, prompt(q["question"], docs), answer_ids(o)).mean()) for o in opts]
                best = min(range(len(opts)), key=lambda j: (m[j], j))
                pred[k] = best
                margin[k] = sorted(m)[1] - sorted(m)[0]
                right[k] += best == gold_opt
            u = [-float(answer_nll(Wg, prompt(q["question"], [corpus[i]]), answer_ids(answer)).mean())
                 for i in found[:EVAL_ALIGN]]
            s_al = [sc[i] for i in found[:EVAL_ALIGN]]
            rho.append(spearman_rho(s_al, u))
            tau.append(kendall_tau(s_al, u))
            ranked = [ids[i] for i in found]
            first = next((r for r, d in enumerate(ranked) if d in gold), None)
            if gold:
                for k in EVAL_KS:
                    recall[k].append(len(set(ranked[:k]) & set(gold)) / len(set(gold)))
                rr.append(0.0 if first is None or first >= 10 else 1.0 / (first + 1))
            out.append({"id": q["id"], "options": opts, "answerIndex": gold_opt, "ranked": ranked,
                        "scores": [sc[i] for i in found], "predicted": pred, "optionMargin": margin,
                        "correct": {k: int(pred[k] == gold_opt) for k in conds},
                        "recall": {str(k): recall[k][-1] for k in EVAL_KS}, "rr10": rr[-1],
                        "alignment": {"spearman": rho[-1], "kendall": tau[-1], "scores": s_al, "minusNll": u}})
    DOC_MAX_TOKENS = saved
    n = len(qs)  # every tiny-qa question has options or yes/no/maybe, and gold
    assert all(q.get("gold_doc_ids") for q in qs)
    golden = {
        "topM": EVAL_TOP_M, "alignmentCandidates": EVAL_ALIGN, "ks": EVAL_KS, "docMaxTokens": EVAL_DOC_MAX_TOKENS,
        "scored": n,
        "accuracy": {k: v / n for k, v in right.items()},
        "recall": {str(k): sum(v) / len(v) for k, v in recall.items()},
        "mrr10": sum(rr) / len(rr),
        "alignment": {"spearman": sum(rho) / len(rho), "kendall": sum(tau) / len(tau)},
        "questions": out,
    }
    return golden


# --- the LLM-Rank step (step.json), for any retriever ---------------------------------------------

def llm_rank_step(R, Wg, qe, des, a_ids):
    """The step of the docstring with retriever R: scores with gradient (documents re-encoded), the
    candidates in score order, the top n judged, L_LM + L_rank backward (every retriever weight and
    the generator's trainable set get their gradients)."""
    for t in list(R.W.values()) + list(Wg.values()):
        t.grad = None
    # 1-2. scores with gradient (documents re-encoded), candidates in score order, top n judged
    s = R.scores(qe, des)
    sv = s.detach().tolist()
    order = sorted(range(K), key=lambda i: (-sv[i], i))
    sampled = order[:N_SAMPLED]

    # padding must not change results: each doc alone gives the same score
    with torch.no_grad():
        alone = [float(R.scores(qe, [d])[0]) for d in des]
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

    # distinct scores and utilities (so float32 cannot reorder them), and whether the ranking is non-trivial
    ss = sorted(sv)
    gap = min(b - a for a, b in zip(ss, ss[1:]))
    nn = sorted(nll_mean)
    ngap = min(b - a for a, b in zip(nn, nn[1:]))
    ys = [nll_mean[b] > nll_mean[a] for a in range(N_SAMPLED) for b in range(a + 1, N_SAMPLED)]
    assert gap > 1e-3, f"{R.name}: scores too close: {sv}"
    assert ngap > 1e-3, f"{R.name}: utilities too close: {nll_mean}"
    return {"scores": sv, "order": order, "sampled": sampled, "utilPrompts": util_prompts, "lmPrompt": lm_prompt,
            "nllMean": nll_mean, "lossRank": float(loss_rank), "lossLM": float(loss_lm), "gap": gap, "ys": ys}


def generator_grads(Wg, a_ids):
    """The generator gradients a golden keeps (step.json's format): two norms and the lm_head rows of the answer."""
    rows = sorted(set(a_ids))
    return {
        "generator:model.norm.weight": f32s(Wg["model.norm.weight"].grad),
        "generator:model.layers.0.input_layernorm.weight": f32s(Wg["model.layers.0.input_layernorm.weight"].grad),
        "generator:lm_head.weight_rows": {"rows": rows, "values": [f32s(Wg["lm_head.weight"].grad[r]) for r in rows]},
    }


def load_generator():
    Wg = read_safetensors(os.path.join(FIX, "tiny-llama", "model.safetensors"))
    g_train = [n for n in Wg if n in ("model.embed_tokens.weight", "lm_head.weight") or n.endswith("norm.weight")]
    for n in g_train:
        Wg[n].requires_grad_(True)
    return Wg, g_train


def trainable(R):
    for t in R.W.values():
        t.requires_grad_(True)  # full retriever training: every weight
    return R


# --- ColBERT: step.json, step-losses.json, eval.json ----------------------------------------------

def colbert_goldens(Wg, g_train):
    R = trainable(ColbertRetriever())
    q_ids, q_len = qe = R.query(QUESTION)
    d_ids = R.docs(PASSAGES)
    a_ids = answer_ids(ANSWER)
    st = llm_rank_step(R, Wg, qe, d_ids, a_ids)
    assert not all(st["ys"]), "the score order is already the utility order"
    golden = {
        "question": QUESTION,
        "answer": ANSWER,
        "passages": PASSAGES,
        "docMaxTokens": DOC_MAX_TOKENS,
        "queryIds": q_ids,
        "docIds": d_ids,
        "promptIds": {"utility": st["utilPrompts"], "lm": st["lmPrompt"]},
        "answerIds": a_ids,
        "scores": st["scores"],
        "order": st["order"],
        "nllMean": st["nllMean"],
        "lossRank": st["lossRank"],
        "lossLM": st["lossLM"],
        "grads": {
            "retriever:linear.weight": f32s(R.W["linear.weight"].grad),
            "retriever:bert.encoder.layer.1.output.dense.weight": f32s(R.W["bert.encoder.layer.1.output.dense.weight"].grad),
            **generator_grads(Wg, a_ids),
        },
    }
    write_json(OUT, golden)

    base = {"lossLM": st["lossLM"], "order": st["order"], "grads": {n: Wg[n].grad.clone() for n in g_train}}
    cases = loss_cases(R, Wg, qe, d_ids, base)
    write_json(OUT_LOSSES, {"defaults": LOSS_DEFAULTS, "lossGrads": R.loss_grads, "cases": cases})
    ev = eval_golden(R, Wg)
    write_json(OUT_EVAL, ev)

    toks = {i: t for t, i in bert_vocab.items()}
    print("query tokens:", [toks[i] for i in q_ids[:q_len]], f"+ {QUERY_MAX_LEN - q_len} [MASK]")
    for p, d in zip(PASSAGES, d_ids):
        print(f"doc {p['id']}: {len(d)} tokens, kept {sum(t not in PUNCT_IDS for t in d)};",
              f"llama doc tokens {len(enc(' ' + p['title'] + '. ' + p['text']))} (cut to {DOC_MAX_TOKENS})")
    print("scores:", st["scores"], "min gap", st["gap"])
    print("order:", st["order"], "sampled:", st["sampled"])
    print("utility prompt lengths:", [len(p) for p in st["utilPrompts"]], "lm prompt length:", len(st["lmPrompt"]),
          "answer ids:", a_ids)
    print("nllMean (sampled order):", st["nllMean"], "y pairs:", st["ys"])
    print(f"lossRank {st['lossRank']:.10f}  lossLM {st['lossLM']:.10f}")
    print("eval:", {k: ev[k] for k in ("accuracy", "recall", "mrr10", "alignment")})
    print("eval option margins:", [q["optionMargin"] for q in ev["questions"]])
    return base


# --- dense (tiny-gptneox): step-losses-dense.json -------------------------------------------------

def dense_goldens(Wg, g_train, colbert_base):
    """The LOSS_CASES with the dense retriever. The LM loss reads the top m by the DENSE scores: when
    they are not ColBERT's (same passages, same order), lossLM and the generator gradients differ from
    step.json and the file carries its own generatorGrads."""
    R = DenseRetriever()
    diff = R.check_fixture_golden()
    trainable(R)
    qe, des = R.query(QUESTION), R.docs(PASSAGES)
    a_ids = answer_ids(ANSWER)
    st = llm_rank_step(R, Wg, qe, des, a_ids)
    base = {"lossLM": st["lossLM"], "order": st["order"], "grads": {n: Wg[n].grad.clone() for n in g_train}}
    same_lm = st["order"][:TOP_M] == colbert_base["order"][:TOP_M]
    if same_lm:
        assert abs(base["lossLM"] - colbert_base["lossLM"]) < 1e-12
        for n, g in colbert_base["grads"].items():
            assert torch.allclose(base["grads"][n], g, rtol=0, atol=1e-12), n
    gen = None if same_lm else generator_grads(Wg, a_ids)

    cases = loss_cases(R, Wg, qe, des, base)
    golden = {"retriever": R.name, **R.meta(qe, des), "order": st["order"],
              "promptIds": {"lm": st["lmPrompt"]}, "defaults": LOSS_DEFAULTS, "lossGrads": R.loss_grads,
              "cases": cases}
    if gen is not None:
        golden["generatorGrads"] = gen
    write_json(OUT_DENSE, golden)

    print(f"dense: fixture pooled_last reproduced (max abs diff {diff:.2e})")
    print("dense query ids:", len(qe), "doc ids:", [len(d) for d in des])
    print("dense scores:", st["scores"], "min gap", st["gap"])
    print("dense order:", st["order"], "sampled:", st["sampled"], "nllMean:", st["nllMean"], "y pairs:", st["ys"])
    print(f"dense lossRank {st['lossRank']:.10f}  lossLM {st['lossLM']:.10f}",
          "(the LM top-2 is ColBERT's: generator gradients as step.json)" if same_lm
          else f"(LM top-2 {st['order'][:TOP_M]} != ColBERT's {colbert_base['order'][:TOP_M]}: generatorGrads written)")


def main():
    torch.set_num_threads(1)
    Wg, g_train = load_generator()
    base = colbert_goldens(Wg, g_train)
    dense_goldens(Wg, g_train, base)
    for path in (OUT, OUT_LOSSES, OUT_EVAL, OUT_DENSE):
        print(f"wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path) / 1024:.1f} KiB)")


if __name__ == "__main__":
    main()

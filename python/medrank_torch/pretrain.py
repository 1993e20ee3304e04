"""Pretraining of the built-in demo's models (scripts/make-demo-models.ts calls it).

Owns: reading the pretraining inputs (pretrain.safetensors: the generator's reading curriculum as
prompt and answer ids, the retriever's inverse-cloze pairs as ColBERT query and document ids, all
tokenized by MedRank), training each model from the seeded initial folders with the twin's modules
(Generator: mean answer-token NLL, every weight trained; ColbertRetriever: in-batch InfoNCE over
MaxSim scores, every weight trained, dropout as the browser draws it) and the browser's AdamW with a
linear warm-up and cosine decay, and writing each model's weights under its checkpoint names with a
log of the losses. Examples are taken in file order, each once (the curriculum is a fresh world per
example), so a run is deterministic for its inputs and settings.

A second generator phase (settings.generator2, inputs gen2.*) continues from phase 1's weights, or
from generator2.from (a folder phase 1 wrote earlier). settings.dense (inputs dense.*) trains the demo
dense retriever from WORK/init/dense (scripts/make-demo-dense.ts).

usage: python -m medrank_torch.pretrain WORK --settings JSON
  WORK/init/{retriever,generator}: the starting folders; WORK/pretrain.safetensors: the inputs;
  writes WORK/out/{retriever,generator}/model.safetensors and WORK/out/log.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time

import torch
import torch.nn.functional as F

from . import safetensors
from .colbert import ColbertRetriever
from .generator import Generator
from .optim import AdamW
from .rng import ForwardContext


def split(flat, offsets) -> list:
    """Item i of a ragged tensor: flat[offsets[i]:offsets[i+1]], as lists."""
    ids, off = flat.tolist(), offsets.tolist()
    return [ids[off[i]:off[i + 1]] for i in range(len(off) - 1)]


def ragged(t: dict, name: str) -> list:
    return split(t[f"{name}_ids"], t[f"{name}_offsets"])


def lr_at(step: int, steps: int, lr: float, warmup: int) -> float:
    if step < warmup:
        return lr * (step + 1) / warmup
    return lr * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))


def save_trained(model, work: str, role: str) -> None:
    """WORK/out/ROLE/model.safetensors: the model's parameters under every tensor name the initial file had."""
    names = list(safetensors.load(os.path.join(work, "init", role, "model.safetensors"))[0].keys())
    by_name = {n: p for p, n in model.param_names().items()}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise KeyError(f"the trained model has no tensor named {missing[0]}")
    safetensors.save(os.path.join(work, "out", role, "model.safetensors"), {n: by_name[n].detach().cpu() for n in names})


def distinct_batch(order: list, positive: list, at: int, B: int) -> tuple:
    """The next B pairs of `order` (from position `at`, wrapping) whose positives differ, so no
    in-batch negative is another query's positive; returns (rows, the position after them)."""
    rows, seen = [], set()
    while len(rows) < B:
        i = order[at % len(order)]
        at += 1
        if positive[i] not in seen:
            seen.add(positive[i])
            rows.append(i)
    return rows, at


def train_generator(work: str, t: dict, s: dict, log: dict, phase: str = "generator", prefix: str = "gen",
                    start: str | None = None) -> None:
    """One phase of the generator's pretraining on the PREFIX.* curriculum, from `start` (default the
    initial folder); writes WORK/out/generator and log[phase]."""
    g = Generator.load(start or os.path.join(work, "init", "generator"))
    params = g.configure_training(full=True)
    opt = AdamW(params, lr=s["lr"], weight_decay=s.get("weightDecay", 0.0), max_grad_norm=1.0)
    prompts, answers = ragged(t, f"{prefix}.prompt"), ragged(t, f"{prefix}.answer")
    B, steps = s["batch"], s["steps"]
    if steps * B > len(prompts):
        raise ValueError(f"{steps} steps x batch {B} need {steps * B} curriculum examples; the file has {len(prompts)}")
    losses, t0 = [], time.time()
    for step in range(steps):
        opt.lr = lr_at(step, steps, s["lr"], s.get("warmup", 100))
        rows = range(step * B, (step + 1) * B)
        # One forward of each whole sequence after BOS: the answer tokens' NLL is the loss, and
        # the rest (the context and question, a dense signal of names seen earlier in the same
        # sequence) adds lmWeight x their mean as a language-modelling loss.
        nll, off = g.answer_tokens([(prompts[i][:1], prompts[i][1:] + answers[i]) for i in rows])
        ans = torch.cat([nll[off[b + 1] - len(answers[i]):off[b + 1]] for b, i in enumerate(rows)])
        loss = ans.mean() + s.get("lmWeight", 0.0) * nll.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(ans.mean()))
        if step % 200 == 0 or step == steps - 1:
            print(f"{phase} step {step}: answer NLL {sum(losses[-50:]) / len(losses[-50:]):.4f} ({time.time() - t0:.0f} s)",
                  file=sys.stderr, flush=True)
    save_trained(g, work, "generator")
    log[phase] = {"seconds": round(time.time() - t0, 1), "answerNll": [round(x, 4) for x in losses]}


def in_batch_infonce(model, params: list, work: str, role: str, positive: list, s: dict, log: dict, scores_of) -> None:
    """`params` of `model` trained with B-way in-batch InfoNCE: each step takes the next B pairs
    with distinct positives (distinct_batch, over a seeded order), scores_of(step, rows) gives the
    [B, B] scores of their queries against their positives, and the loss is the cross-entropy of
    scores / tau with the diagonal as the target. Writes WORK/out/ROLE/model.safetensors and log[role]."""
    opt = AdamW(params, lr=s["lr"], max_grad_norm=1.0)
    gen = torch.Generator().manual_seed(s["seed"])
    order = torch.randperm(len(positive), generator=gen).tolist()
    B, steps, tau = s["batch"], s["steps"], s["tau"]
    if B > len(set(positive)):
        raise ValueError(f"a batch of {B} queries needs {B} distinct positives; the pairs have {len(set(positive))}: lower the batch")
    losses, t0, at = [], time.time(), 0
    for step in range(steps):
        opt.lr = lr_at(step, steps, s["lr"], s.get("warmup", 20))
        rows, at = distinct_batch(order, positive, at, B)
        loss = F.cross_entropy(scores_of(step, rows) / tau, torch.arange(B))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
        if step % 100 == 0 or step == steps - 1:
            print(f"{role} step {step}: InfoNCE {sum(losses[-20:]) / len(losses[-20:]):.4f} ({time.time() - t0:.0f} s)",
                  file=sys.stderr, flush=True)
    save_trained(model, work, role)
    log[role] = {"seconds": round(time.time() - t0, 1), "infoNce": [round(x, 4) for x in losses]}


def train_retriever(work: str, t: dict, s: dict, log: dict) -> None:
    """The demo ColBERT on the ict.* pairs (MaxSim scores, dropout as the browser draws it)."""
    r = ColbertRetriever.load(os.path.join(work, "init", "retriever"), seed=s["seed"])
    q_ids, q_mask = t["ict.query_ids"].long(), t["ict.query_mask"].float()
    docs = list(zip(ragged(t, "ict.doc"), split(t["ict.doc_keep"], t["ict.doc_offsets"])))
    positive = t["ict.positive"].tolist()

    def scores_of(step: int, rows: list) -> torch.Tensor:
        ctx = ForwardContext(True, seed=s["seed"] * 7919 + step)
        qv = r.encode_queries(q_ids[rows], q_mask[rows], ctx)
        dv, off = r.encode_docs([docs[positive[i]] for i in rows], ctx)
        return r.score(qv, dv, off)

    in_batch_infonce(r, r.configure_training("full"), work, "retriever", positive, s, log, scores_of)


def train_dense(work: str, t: dict, s: dict, log: dict) -> None:
    """The demo dense retriever (BMRetriever style): the decoder in WORK/init/dense (the demo
    generator, so one small LM serves both roles) trained with in-batch InfoNCE over dot products of
    pooled states (settings pooling: "last" token, BMRetriever's, or "mean"), on the dense.* pairs
    (query and document ids as DenseTokenizer writes them: templates, EOS last). Every weight
    trains; no dropout (the decoder has none)."""
    g = Generator.load(os.path.join(work, "init", "dense"))
    queries, docs = ragged(t, "dense.query"), ragged(t, "dense.doc")
    positive = t["dense.positive"].tolist()

    def embed(seqs: list) -> torch.Tensor:
        ids = torch.full((len(seqs), max(len(x) for x in seqs)), g.pad_id, dtype=torch.long)
        for b, x in enumerate(seqs):
            ids[b, :len(x)] = torch.tensor(x)
        h = g.model(ids)
        lengths = torch.tensor([len(x) for x in seqs])
        if s.get("pooling", "last") == "mean":  # each text's own tokens (padding is never attended)
            valid = (torch.arange(ids.shape[1])[None, :] < lengths[:, None]).to(h.dtype)
            return (h * valid[..., None]).sum(1) / lengths[:, None].to(h.dtype)
        return h[torch.arange(len(seqs)), lengths - 1]

    def scores_of(step: int, rows: list) -> torch.Tensor:
        return embed([queries[i] for i in rows]) @ embed([docs[positive[i]] for i in rows]).T

    in_batch_infonce(g, g.configure_training(full=True), work, "dense", positive, s, log, scores_of)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m medrank_torch.pretrain", description=__doc__.split("\n\n")[0])
    ap.add_argument("work")
    ap.add_argument("--settings", required=True, help="JSON: {seed, threads, retriever: {...}, generator: {...}}")
    a = ap.parse_args(argv)
    s = json.loads(a.settings)
    torch.manual_seed(s["seed"])
    torch.set_num_threads(int(s.get("threads", 2)))
    t, _ = safetensors.load(os.path.join(a.work, "pretrain.safetensors"))
    for role in ("retriever", "generator", "dense"):
        os.makedirs(os.path.join(a.work, "out", role), exist_ok=True)
    log: dict = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    dense = s.get("dense")
    if dense and dense["steps"] > 0:
        train_dense(a.work, t, {**dense, "seed": s["seed"]}, log)
    if s["retriever"]["steps"] > 0:
        train_retriever(a.work, t, {**s["retriever"], "seed": s["seed"]}, log)
    if s["generator"]["steps"] > 0:
        train_generator(a.work, t, s["generator"], log)
    g2 = s.get("generator2")
    if g2 and g2["steps"] > 0:
        # Phase 2 continues phase 1 (or, with "from", the folder phase 1 wrote earlier).
        start = g2.get("from")
        if not start:
            # Phase 1 wrote only its weights: the folder needs the config and tokenizer beside them.
            start = os.path.join(a.work, "out", "generator")
            init = os.path.join(a.work, "init", "generator")
            for f in os.listdir(init):
                if f != "model.safetensors":
                    shutil.copy(os.path.join(init, f), os.path.join(start, f))
        train_generator(a.work, t, g2, log, phase="generator2", prefix="gen2", start=start)
    with open(os.path.join(a.work, "out", "log.json"), "w") as f:
        json.dump(log, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())

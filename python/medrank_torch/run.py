"""A training run (src/training/run.ts): evaluate, then step after step with checkpoints, evaluating on
schedule and at the end. A NaN or infinite loss stops the run with its message and the last good
state kept; a resumed run gives the uninterrupted run's records (every draw of step t comes from
(seed, t)). Checkpoints hold the trainable tensors, both optimizers and the records so far.
"""

from __future__ import annotations

import json
import os
import shutil
import time

import torch

from .evaluate import evaluate
from .index import build_index
from .step import PHASES, NonFiniteLossError, Trainer

SPLITS = {0: "train", 1: "validation", 2: "test"}
CHECKPOINT_FORMAT = "medrank-torch-checkpoint"
RESUMABLE_CHANGES = ("steps", "recordScoresAfter")


class ResumeError(Exception):
    pass


def questions_of(bundle, split: int) -> list:
    return [q for q in range(len(bundle.question_ids)) if bundle.split[q] == split]


def config_diff(a: dict, b: dict) -> list:
    keys = set(a) | set(b)
    return sorted(k for k in keys if k not in RESUMABLE_CHANGES and a.get(k) != b.get(k))


def run_training(retriever, generator, bundle, config: dict, dist, on_step=None, on_eval=None,
                 save_checkpoint=None, resume: dict | None = None, stop_after: int | None = None,
                 per_question: bool = False) -> dict:
    t0 = time.perf_counter()
    c = config
    train = questions_of(bundle, 0)

    def held_out(split: int) -> list:
        qs = questions_of(bundle, split)
        return qs[: c["evalLimit"]] if c["evalLimit"] > 0 else qs

    eval_split = 1 if c["evalSplit"] == "validation" else 2
    eval_sets = [(eval_split, held_out(eval_split))]
    if c["reportTest"] and eval_split != 2:
        eval_sets.append((2, held_out(2)))
    # The trainer first: what it refuses (sizes, LoRA targets) costs nothing yet.
    trainer = Trainer(retriever, generator, bundle, train, None, c, dist)
    t_index = time.perf_counter()
    trainer.index = build_index(retriever, bundle, dist)
    index_ms = (time.perf_counter() - t_index) * 1000
    records, evals = [], []
    stopped = None
    saved_at = [resume["step"] if resume else -1]

    def save():
        if not save_checkpoint or saved_at[0] == trainer.step_index:
            return
        saved_at[0] = trainer.step_index
        if dist.main:
            save_checkpoint(snapshot(trainer, records, evals))

    if resume:
        restore(trainer, resume)
        records.extend(json.loads(resume["records"]))
        evals.extend(json.loads(resume["evals"]))

    def run_eval(final=False):
        for split, qs in eval_sets:
            if not qs or (split == 2 and split != eval_split and not final and trainer.step_index > 0):
                continue
            with torch.no_grad():
                result = evaluate(retriever, generator, trainer.index, trainer.prompts, bundle, qs, c["topM"],
                                  c["evalAlignmentCandidates"], dist, per_question=per_question)
            entry = {"step": trainer.step_index, "split": SPLITS[split], "result": result}
            evals.append(entry)
            if on_eval:
                on_eval(entry)

    if not resume and c["evalAtStart"]:
        run_eval()
    while trainer.step_index < c["steps"]:
        if stop_after is not None and trainer.step_index >= stop_after:
            stopped = {"step": trainer.step_index, "message": f"stopped after {stop_after} steps as asked"}
            break
        try:
            rec = trainer.step()
        except NonFiniteLossError as e:
            stopped = {"step": trainer.step_index, "message": str(e)}
            break
        records.append(rec)
        if on_step:
            on_step(rec)
        t = trainer.step_index
        if c["evalEvery"] > 0 and t % c["evalEvery"] == 0 and t < c["steps"]:
            run_eval()
        if t == c["steps"]:
            run_eval(True)
        if (c["checkpointEvery"] > 0 and t % c["checkpointEvery"] == 0) or t == c["steps"]:
            save()
    # A run that stopped early keeps its state at the stop, so it resumes from there, unless the
    # index was rebuilt since: a resumed run rebuilds only at multiples of refreshIndexEvery (with
    # the weights it has then), so it resumes from the last regular checkpoint instead.
    if stopped and trainer.step_index > 0 and resumable_at(c, trainer.step_index):
        save()
    phase_ms = {p: (sum(r["ms"][p] for r in records) / len(records) if records else 0) for p in PHASES}
    return {"config": c, "records": records, "evals": evals, "stopped": stopped, "phaseMs": phase_ms,
            "wallMs": (time.perf_counter() - t0) * 1000, "indexMs": index_ms}


def resumable_at(c: dict, step: int) -> bool:
    """Can a run resume exactly from a checkpoint made after `step` steps (the index it searched then is rebuilt)?"""
    refreshes = c["retrieverSide"] == "both" and c["refreshIndexEvery"] > 0 and c["schedule"] != "frozen-retriever"
    return not refreshes or step < c["refreshIndexEvery"] or step % c["refreshIndexEvery"] == 0


def trainables(trainer: Trainer) -> list:
    return [*(trainer.opt_r.params if trainer.opt_r else []), *(trainer.opt_g.params if trainer.opt_g else [])]


def snapshot(trainer: Trainer, records: list, evals: list) -> dict:
    # Records, evaluations and the config travel as JSON text: torch.load(weights_only=True), which
    # a hostile checkpoint cannot run code through, refuses pickled floats on torch 1.13.
    return {
        "format": CHECKPOINT_FORMAT,
        "step": trainer.step_index,
        "config": json.dumps(trainer.config),
        "params": [p.detach().cpu().clone() for p in trainables(trainer)],
        "optimizers": {
            "retriever": trainer.opt_r.save_state() if trainer.opt_r else None,
            "generator": trainer.opt_g.save_state() if trainer.opt_g else None,
        },
        "records": json.dumps(records),
        "evals": json.dumps(evals),
    }


def check_checkpoint(ck) -> None:
    """The fields restore reads, of the types it reads them as."""
    ok = (isinstance(ck, dict) and ck.get("format") == CHECKPOINT_FORMAT and isinstance(ck.get("step"), int)
          and not isinstance(ck.get("step"), bool) and ck["step"] >= 0
          and all(isinstance(ck.get(k), str) for k in ("config", "records", "evals"))
          and isinstance(ck.get("params"), list) and all(isinstance(p, torch.Tensor) for p in ck["params"])
          and isinstance(ck.get("optimizers"), dict))
    if not ok:
        raise ResumeError("not a checkpoint of the PyTorch twin (medrank_torch); give --resume a file its --checkpoints wrote")
    try:
        json.loads(ck["config"]), json.loads(ck["records"]), json.loads(ck["evals"])
    except ValueError:
        raise ResumeError("the checkpoint's config or records are not valid JSON; it is damaged: use an earlier one") from None


def restore(trainer: Trainer, ck: dict) -> None:
    check_checkpoint(ck)
    old = json.loads(ck["config"])
    diff = config_diff(old, trainer.config)
    # Under a staged schedule the steps move the phase boundary: they may not change on resume.
    if trainer.config["schedule"] == "staged" and old.get("steps") != trainer.config["steps"]:
        diff.append("steps (the staged schedule's phases depend on it)")
    if ck["step"] > trainer.config["steps"]:
        raise ResumeError(f"the checkpoint is at step {ck['step']}, past this run's {trainer.config['steps']} steps; give --steps {ck['step']} or more")
    if diff:
        raise ResumeError(
            f"this checkpoint was made by a run with another configuration ({', '.join(diff)} differ; only steps and "
            "recordScoresAfter may change on resume); start a new run"
        )
    ps = trainables(trainer)
    if len(ck["params"]) != len(ps):
        raise ResumeError(f"checkpoint holds {len(ck['params'])} tensors, this run trains {len(ps)}")
    with torch.no_grad():
        for i, (p, v) in enumerate(zip(ps, ck["params"])):
            if v.numel() != p.numel():
                raise ResumeError(f"checkpoint tensor {i} has {v.numel()} values, this run's needs {p.numel()}")
            p.copy_(v.reshape(p.shape).to(p.device))
    if ck["optimizers"]["retriever"] and trainer.opt_r:
        trainer.opt_r.load_state(ck["optimizers"]["retriever"])
    if ck["optimizers"]["generator"] and trainer.opt_g:
        trainer.opt_g.load_state(ck["optimizers"]["generator"])
    trainer.step_index = ck["step"]


def write_checkpoint(folder: str, ck: dict) -> str:
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"step-{ck['step']:05d}.pt")
    tmp = path + ".tmp"
    torch.save(ck, tmp)
    os.replace(tmp, path)
    latest = os.path.join(folder, "latest.pt")
    shutil.copyfile(path, latest + ".tmp")
    os.replace(latest + ".tmp", latest)
    return path

"""The twin's training-step benchmark at real model shapes with random weights (bench/README.md, twin).

    sh scripts/py.sh -m medrank_torch.bench [--json] [--shapes colbertv2-smollm2-135m,toy] [--steps 3] [--warmup 1]
        [--threads N] [--passages N] [--questions N] [--index random|encode] [--keep DIR]

Owns: SHAPES (config.json of each retriever / generator pair: colbertv2.0's BERT-base and
SmolLM2-135M's Llama, and a toy pair for tests); build_synthetic_bundle, a bundle folder in the
layout of docs/cluster.md with seeded random weights (medrank_torch.safetensors.save) and random
token ids (fixed-length passages, ~20-token questions with 4 options each); bench_step, which
loads it like the command line does (bundle.load_bundle with verification, ColbertRetriever.load,
Generator.load), runs warm-up steps of Trainer.step, then timed steps, and returns one row
{impl, what, device, threads, seconds, phases, ...}. The config is jmlr-code's (src/training/
config.ts DEFAULT_CONFIG = public/presets/jmlr-code.json) with the shape's sizes.

The index holds random unit vectors by default (the step's search over P passages costs the same
for any vectors; encoding 2,000 BERT-base passages on two cores would take ~10 minutes and no step
refreshes the index before refreshIndexEvery = 50); --index encode builds it with the retriever.
Nothing here is a test: no timing is asserted on. Progress goes to stderr, rows to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time

import torch

from . import safetensors
from .bert import bert_specs
from .bundle import load_bundle, sha256_file
from .colbert import ColbertRetriever
from .dist import Dist
from .generator import Generator
from .index import Index, build_index
from .llama import llama_specs
from .model_config import BertConfig, parse_config
from .run import questions_of
from .step import PHASES, Trainer
from .train_config import check_config

# The resolved jmlr-code config (DEFAULT_CONFIG in src/training/config.ts; the preset file sets the
# same values). tests/test_bench.py checks it against public/presets/jmlr-code.json.
JMLR_CODE = {
    "name": "jmlr-code", "seed": 0, "steps": 200, "batchSize": 2, "schedule": "synchronous", "stagedReaderFraction": 0.5,
    "retrieverLoss": "llm-rank", "candidates": 20, "sampled": 10, "sampling": True, "samplingTemperature": 1, "llmRankMargin": 0.0,
    "tauS": 1, "tauG": 1, "jomedPrior": False, "jomedWeighting": True, "infoNceTau": 0.05, "inBatchNegatives": False, "pretrainPairs": "none", "topM": 5,
    "generatorContext": "concat", "docMaxTokens": 180, "retrieverSide": "both", "retrieverTraining": "full",
    "generatorLora": {"r": 8, "alpha": 16, "dropout": 0.05, "targetModules": ["q_proj", "v_proj"]},
    "generatorEmbeddings": True, "generatorNorms": True, "lrRetriever": 3e-6, "lrGenerator": 1e-5,
    "weightDecay": 0, "maxGradNorm": 1, "dropout": True, "s2attn": {"ratio": 0.25, "shift": "roll"},
    "refreshIndexEvery": 50, "checkpointEvery": 50, "evalSplit": "validation", "evalAtStart": True,
    "reportTest": False, "evalEvery": 0, "evalLimit": 0, "evalAlignmentCandidates": 10, "recordScoresAfter": False,
    "probeQuestions": 0, "probeEvery": 5,
}

# Each shape: the two config.json files, the synthetic data's sizes and the step config's overrides.
SHAPES = {
    "colbertv2-smollm2-135m": {
        "retriever": {  # colbert-ir/colbertv2.0: BERT-base uncased + a 128-dim projection
            "architectures": ["HF_ColBERT"], "model_type": "bert", "vocab_size": 30522, "hidden_size": 768,
            "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072, "hidden_act": "gelu",
            "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "pad_token_id": 0,
            "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "position_embedding_type": "absolute",
            "dim": 128,
        },
        "generator": {  # HuggingFaceTB/SmolLM2-135M (max positions as SmolLM-135M's 2048)
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 49152, "hidden_size": 576,
            "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3,
            "head_dim": 64, "hidden_act": "silu", "max_position_embeddings": 2048, "rms_norm_eps": 1e-5,
            "rope_theta": 100000, "tie_word_embeddings": True, "attention_bias": False, "mlp_bias": False,
            "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 2,
        },
        "data": {"passages": 2000, "questions": 64, "options": 4, "colbert_doc_tokens": 180, "gen_doc_tokens": 180,
                 "question_tokens": 20},
        "config": {},  # jmlr-code as it is: batch 2, 20 candidates, 10 sampled, top 5, 180 doc tokens
    },
    "toy": {  # for tests: seconds, not minutes
        "retriever": {
            "model_type": "bert", "vocab_size": 512, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
            "intermediate_size": 64, "max_position_embeddings": 64, "pad_token_id": 0, "dim": 16,
        },
        "generator": {
            "model_type": "llama", "vocab_size": 512, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8, "max_position_embeddings": 256,
            "tie_word_embeddings": True, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 2,
        },
        "data": {"passages": 20, "questions": 8, "options": 4, "colbert_doc_tokens": 24, "gen_doc_tokens": 24,
                 "question_tokens": 8},
        "config": {"candidates": 6, "sampled": 3, "topM": 2, "docMaxTokens": 24},
    },
}

QUERY_MAX_LEN = 32
# BERT uncased's special ids ([PAD] [unused0] [unused1] [CLS] [SEP] [MASK]); text ids are drawn above them.
PAD, UNUSED0, UNUSED1, CLS, SEP, MASK = 0, 1, 2, 101, 102, 103
BOS, EOS = 1, 2  # the generator's (SmolLM's <|endoftext|> is 0, <|im_start|> 1, <|im_end|> 2)


def log(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def random_weights(specs: list, gen: torch.Generator) -> dict:
    """Seeded weights for [(name, shape)]: norms' weights 1, biases 0, the rest N(0, 0.02) (BERT's and Llama's init)."""
    out = {}
    for name, shape in specs:
        if name.endswith("LayerNorm.weight") or name.endswith("norm.weight"):
            out[name] = torch.ones(shape)
        elif name.endswith(".bias"):
            out[name] = torch.zeros(shape)
        else:
            out[name] = torch.randn(shape, generator=gen) * 0.02
    return out


def _write_model(folder: str, config: dict, specs: list, gen: torch.Generator) -> None:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    tensors = random_weights(specs, gen)
    safetensors.save(os.path.join(folder, "model.safetensors"), tensors, {"format": "pt"})


def _ragged(lists: list) -> tuple:
    flat, offsets = [], [0]
    for x in lists:
        flat.extend(x)
        offsets.append(len(flat))
    return torch.tensor(flat, dtype=torch.int32), torch.tensor(offsets, dtype=torch.int32)


def build_synthetic_bundle(folder: str, shape: str | dict = "colbertv2-smollm2-135m", seed: int = 0,
                           data: dict | None = None, config: dict | None = None) -> str:
    """Write a bundle (docs/cluster.md, format version 1) of random weights and random token ids into folder.

    `shape` names an entry of SHAPES (or is one); `data` and `config` override its sizes and its step
    config. Questions: 3/4 train (split 0), the rest validation; each has `options` options (the
    answer is the gold option's ids) and one gold passage. Returns folder."""
    s = SHAPES[shape] if isinstance(shape, str) else shape
    d = {**s["data"], **(data or {})}
    cfg = check_config({**JMLR_CODE, **s["config"], **(config or {})})
    rc, gc = parse_config(s["retriever"]), parse_config(s["generator"])
    assert isinstance(rc, BertConfig)
    os.makedirs(folder, exist_ok=True)
    gen = torch.Generator().manual_seed(seed)
    _write_model(os.path.join(folder, "retriever"), s["retriever"],
                 bert_specs(rc, "") + [("linear.weight", [rc.colbert_dim, rc.hidden_size])], gen)
    _write_model(os.path.join(folder, "generator"), s["generator"], llama_specs(gc), gen)

    P, Q, O = d["passages"], d["questions"], d["options"]
    doc_max_len = min(180, rc.max_positions)
    Lc = min(d["colbert_doc_tokens"], doc_max_len)
    Lg = min(d["gen_doc_tokens"], cfg["docMaxTokens"])

    def words(n: int, low: int, vocab: int) -> list:
        return torch.randint(low, vocab, (n,), generator=gen).tolist()

    def length(mean: int) -> int:  # mean +- 20%
        spread = max(1, mean // 5)
        return max(1, mean - spread + int(torch.randint(0, 2 * spread + 1, (1,), generator=gen)))

    bert_low, gen_low = MASK + 1, 3
    cdocs = [[CLS, UNUSED1, *words(Lc - 3, bert_low, rc.vocab_size), SEP] for _ in range(P)]
    # doc_keep: 0 on ~3% of the text tokens (what punctuation gets under mask_punctuation)
    keep = [[1, 1, *(int(v >= 0.03) for v in torch.rand(Lc - 3, generator=gen).tolist()), 1] for _ in range(P)]
    qids, qmask = [], []
    for _ in range(Q):
        text = words(min(length(d["question_tokens"]), QUERY_MAX_LEN - 3), bert_low, rc.vocab_size)
        real = [CLS, UNUSED0, *text, SEP]
        qids.append(real + [MASK] * (QUERY_MAX_LEN - len(real)))
        qmask.append([1] * len(real) + [0] * (QUERY_MAX_LEN - len(real)))
    gdocs = [words(Lg, gen_low, gc.vocab_size) for _ in range(P)]
    gq, gq_nodoc, answers, options, gold_option = [], [], [], [], []
    for _ in range(Q):
        text = words(length(d["question_tokens"]), gen_low, gc.vocab_size)
        gq.append([*words(2, gen_low, gc.vocab_size), *text, *words(2, gen_low, gc.vocab_size)])  # " question: q answer:"
        gq_nodoc.append([*words(2, gen_low, gc.vocab_size), *text, *words(2, gen_low, gc.vocab_size)])
        opts = [words(length(3), gen_low, gc.vocab_size) + [EOS] for _ in range(O)]
        g = int(torch.randint(0, O, (1,), generator=gen)) if O else -1
        options.extend(opts)
        gold_option.append(g)
        answers.append(opts[g] if O else [*words(length(3), gen_low, gc.vocab_size), EOS])
    n_train = max(cfg["batchSize"], (3 * Q) // 4)
    split = [0 if q < n_train else 1 for q in range(Q)]
    gold = [[int(torch.randint(0, P, (1,), generator=gen))] for _ in range(Q)]

    t = {}
    t["colbert.query_ids"] = torch.tensor(qids, dtype=torch.int32)
    t["colbert.query_mask"] = torch.tensor(qmask, dtype=torch.int32)
    t["colbert.doc_ids"], t["colbert.doc_offsets"] = _ragged(cdocs)
    t["colbert.doc_keep"], _ = _ragged(keep)
    t["gen.bos"] = torch.tensor([BOS], dtype=torch.int32)
    t["gen.context"] = torch.tensor(words(2, gen_low, gc.vocab_size), dtype=torch.int32)
    t["gen.doc_ids"], t["gen.doc_offsets"] = _ragged(gdocs)
    t["gen.question_ids"], t["gen.question_offsets"] = _ragged(gq)
    t["gen.question_nodoc_ids"], t["gen.question_nodoc_offsets"] = _ragged(gq_nodoc)
    t["gen.answer_ids"], t["gen.answer_offsets"] = _ragged(answers)
    t["gen.option_ids"], t["gen.option_offsets"] = _ragged(options)
    t["question.option_offsets"] = torch.arange(0, (Q + 1) * O, O, dtype=torch.int32) if O else torch.zeros(Q + 1, dtype=torch.int32)
    t["question.gold_option"] = torch.tensor(gold_option, dtype=torch.int32)
    t["question.split"] = torch.tensor(split, dtype=torch.int32)
    t["question.gold_docs"], t["question.gold_offsets"] = _ragged(gold)
    safetensors.save(os.path.join(folder, "inputs.safetensors"), t,
                     {"format": "medrank-experiment-inputs", "formatVersion": "1"})
    with open(os.path.join(folder, "ids.json"), "w", encoding="utf-8") as f:
        json.dump({"passages": [f"p{i}" for i in range(P)], "questions": [f"q{i}" for i in range(Q)]}, f)

    files = {}
    for rel in ["generator/config.json", "generator/model.safetensors", "ids.json", "inputs.safetensors",
                "retriever/config.json", "retriever/model.safetensors"]:
        p = os.path.join(folder, rel)
        files[rel] = {"bytes": os.path.getsize(p), "sha256": sha256_file(p)}
    manifest = {
        "format": "medrank-experiment", "formatVersion": 1, "medrankVersion": "0.1.0", "config": cfg,
        "data": {"passages": P, "questions": Q, "source": f"synthetic ({shape if isinstance(shape, str) else 'custom'}, seed {seed})"},
        "models": {"retriever": {"dir": "retriever"}, "generator": {"dir": "generator"}},
        "retriever": {"queryMaxLen": QUERY_MAX_LEN, "docMaxLen": doc_max_len, "padTokenId": PAD},
        "generator": {"padTokenId": s["generator"].get("pad_token_id", EOS)},
        "files": files,
    }
    with open(os.path.join(folder, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
    return folder


def random_index(retriever, bundle, seed: int = 0) -> Index:
    """An index of random unit vectors, one per kept token of each passage, as build_index lays it out."""
    rows = [sum(bundle.colbert_keep[p]) for p in range(len(bundle.passage_ids))]
    offsets = [0]
    for r in rows:
        offsets.append(offsets[-1] + r)
    g = torch.Generator().manual_seed(seed)
    v = torch.nn.functional.normalize(torch.randn(offsets[-1], retriever.dim, generator=g), dim=-1)
    dev = retriever.device
    return Index(v.to(dev), torch.tensor(offsets, dtype=torch.long, device=dev), 0, len(rows))


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def bench_step(folder: str, steps: int = 3, warmup: int = 1, index: str = "random", what: str = "step",
               device: str = "cpu", on_record=None) -> dict:
    """Load the bundle as the command line does, run `warmup` untimed then `steps` timed Trainer.steps."""
    t0 = time.perf_counter()
    bundle = load_bundle(folder, verify=True)
    config = check_config(dict(bundle.config))
    config["steps"] = warmup + steps
    retriever = ColbertRetriever.load(bundle.model_dir("retriever"), seed=config["seed"], device=device)
    generator = Generator.load(bundle.model_dir("generator"), pad_id=bundle.manifest["generator"]["padTokenId"], device=device)
    dist = Dist(device)
    t_index = time.perf_counter()
    idx = build_index(retriever, bundle, dist) if index == "encode" else random_index(retriever, bundle, config["seed"])
    index_s = time.perf_counter() - t_index
    trainer = Trainer(retriever, generator, bundle, questions_of(bundle, 0), idx, config, dist)
    setup_s = time.perf_counter() - t0
    walls, phases = [], {p: 0.0 for p in PHASES}
    for t in range(warmup + steps):
        s0 = time.perf_counter()
        rec = trainer.step()
        wall = time.perf_counter() - s0
        if on_record:
            on_record(rec)
        lr, lg = rec["loss"]["retriever"], rec["loss"]["generator"]
        log(f"{what} {t + 1}/{warmup + steps}{' (warm-up)' if t < warmup else ''}: {wall:.2f} s, "
            f"L_ret {lr if lr is None else f'{lr:.4f}'} L_gen {lg if lg is None else f'{lg:.4f}'}")
        if t >= warmup:
            walls.append(wall)
            for p in PHASES:
                phases[p] += rec["ms"][p] / steps
    n_params = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    return {
        "impl": "pytorch-twin",
        "what": what,
        "device": device,
        "threads": torch.get_num_threads(),
        "seconds": round(sum(walls) / len(walls), 3) if walls else None,
        "phases": {p: round(v, 1) for p, v in phases.items()},
        "stepSeconds": [round(w, 3) for w in walls],
        "warmup": warmup,
        "setupSeconds": round(setup_s, 1),
        "indexSeconds": round(index_s, 2),
        "index": index,
        "params": {"retriever": n_params(retriever), "generator": n_params(generator)},
        "peakRssMiB": round(_peak_rss_mib()),
        "torch": torch.__version__,
    }


def run_shape(name: str, steps: int = 3, warmup: int = 1, index: str = "random", data: dict | None = None,
              keep: str | None = None, seed: int = 0) -> dict:
    """Build the shape's bundle in a temporary folder (or `keep`), time it, remove the folder."""
    folder = keep or tempfile.mkdtemp(prefix=f"medrank-bench-{name}-")
    try:
        t0 = time.perf_counter()
        log(f"{name}: writing a synthetic bundle to {folder}")
        build_synthetic_bundle(folder, name, seed=seed, data=data)
        build_s = time.perf_counter() - t0
        row = bench_step(folder, steps=steps, warmup=warmup, index=index, what=f"step-{name}")
        row["bundleSeconds"] = round(build_s, 1)
        d = {**SHAPES[name]["data"], **(data or {})}
        row["data"] = {k: d[k] for k in ("passages", "questions", "options", "colbert_doc_tokens", "gen_doc_tokens")}
        return row
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m medrank_torch.bench", description="Time Trainer.step at real shapes, random weights.")
    p.add_argument("--json", action="store_true", help="one JSON row per shape on stdout, nothing else")
    p.add_argument("--shapes", default="colbertv2-smollm2-135m", help=f"comma-separated, of {', '.join(SHAPES)}")
    p.add_argument("--steps", type=int, default=3, help="timed steps (default 3)")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first (default 1)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's; BLAS keeps its own)")
    p.add_argument("--passages", type=int, help="override the shape's passage count")
    p.add_argument("--questions", type=int, help="override the shape's question count")
    p.add_argument("--index", choices=("random", "encode"), default="random", help="random unit vectors (default) or encode with the retriever")
    p.add_argument("--keep", help="write the bundle here and keep it (one shape only)")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    shapes = [s for s in args.shapes.split(",") if s]
    for s in shapes:
        if s not in SHAPES:
            log(f"error: --shapes {s}: one of {', '.join(SHAPES)}")
            return 2
    if args.keep and len(shapes) > 1:
        log("error: --keep takes one shape")
        return 2
    if args.steps < 1 or args.warmup < 0:
        log("error: --steps must be >= 1 and --warmup >= 0")
        return 2
    # torch's default, as medrank_torch.train. On Debian's torch 1.13 that is 1 thread on a 2-core machine, but
    # its OpenBLAS (pthreads) runs every GEMM on all cores anyway; 2 torch (OpenMP) threads then compete
    # with OpenBLAS's and make a step slower, not faster (bench/README.md, twin).
    if args.threads:
        torch.set_num_threads(args.threads)
    data = {k: v for k, v in (("passages", args.passages), ("questions", args.questions)) if v}
    for s in shapes:
        row = run_shape(s, steps=args.steps, warmup=args.warmup, index=args.index, data=data, keep=args.keep)
        if args.json:
            sys.stdout.write(json.dumps(row) + "\n")
        else:
            ph = ", ".join(f"{k} {v / 1000:.2f}" for k, v in row["phases"].items())
            sys.stdout.write(f"{row['what']} on {row['device']} x{row['threads']} threads: {row['seconds']:.2f} s/step "
                             f"(steps {row['stepSeconds']}; phases s: {ph}; peak RSS {row['peakRssMiB']} MiB)\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

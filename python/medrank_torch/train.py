"""The command line: train from an experiment bundle and write results.json as `npm run experiment` does.

    PYTHONPATH=python python3 -m medrank_torch.train DIR --out results.json [--steps N] [--device cpu|cuda]
        [--checkpoints D] [--resume FILE] [--stop-after N]
    PYTHONPATH=python torchrun --nproc_per_node N -m medrank_torch.train DIR --out results.json

Owns: argument checking, the bundle check before anything runs (a bad bundle exits 2 and writes
nothing), loading the two models, the process group under torchrun (gloo on CPUs, NCCL on GPUs),
checkpoints from rank 0, and the results file (written by rank 0, atomically, only at the end).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import torch

from .bundle import BundleError, check_inputs, load_bundle
from .dist import Dist
from .train_config import ConfigError, check_config, not_run


class UsageError(Exception):
    pass


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python3 -m medrank_torch.train", description="Train a MedRank experiment bundle in PyTorch.")
    p.add_argument("bundle", help="the bundle folder (npm run export-experiment -- <config.json> --out DIR)")
    p.add_argument("--out", required=True, help="results.json to write (the schema of npm run experiment --out)")
    p.add_argument("--steps", type=int, help="override the config's steps")
    p.add_argument("--device", default="cpu", help="cpu or cuda (cuda:N); under torchrun each rank takes cuda:LOCAL_RANK")
    p.add_argument("--checkpoints", help="folder for step-NNNNN.pt and latest.pt")
    p.add_argument("--resume", help="a checkpoint written by --checkpoints")
    p.add_argument("--stop-after", type=int, help="stop after this many steps (resumable), as the browser's runner")
    p.add_argument("--fsdp", action="store_true", help="shard the models across GPUs (FSDP); needs CUDA")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--per-question", action="store_true",
                   help="evaluations also list each question's outcomes (for confidence intervals)")
    return p.parse_args(argv)


def log(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def _finite(x):
    """JSON has no NaN: the browser's JSON.stringify writes null for non-finite numbers."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {str(k): _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def _model_ref(bundle, folder: str, which: str) -> str:
    """A model as `npm run experiment` names it: its folder, or hub:id@revision."""
    m = bundle.manifest["models"][which]
    return os.path.join(folder, m["dir"]) if "dir" in m else f"hub:{m['hub']}@{m['revision']}"


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from .colbert import ColbertRetriever
    from .generator import Generator
    from .model_config import ModelConfigError
    from .run import ResumeError, check_checkpoint, run_training, write_checkpoint

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        if args.fsdp:
            raise UsageError("--fsdp is not implemented in this version of the twin; run without it (DDP shards the index and the batch)")
        if args.device.startswith("cuda") and not torch.cuda.is_available():
            raise UsageError(f"--device {args.device}: CUDA is not available on this machine; use --device cpu")
        if args.steps is not None and args.steps < 0:
            raise UsageError("--steps must be a non-negative integer")
        bundle = load_bundle(args.bundle)
        config = check_config(dict(bundle.config))
        if args.steps is not None:
            config["steps"] = args.steps
        resume = None
        if args.resume:
            if not os.path.isfile(args.resume):
                raise UsageError(f"--resume {args.resume}: no such file")
            try:
                resume = torch.load(args.resume, map_location="cpu", weights_only=True)
            except Exception as e:  # noqa: BLE001 - any unreadable file is the same problem for the user
                raise UsageError(f"--resume {args.resume}: not a readable checkpoint ({e})") from None
            try:
                check_checkpoint(resume)
            except ResumeError as e:
                raise UsageError(f"--resume {args.resume}: {e}") from None
        out_dir = os.path.dirname(os.path.abspath(args.out))
        if not os.path.isdir(out_dir):
            raise UsageError(f"--out {args.out}: the folder {out_dir} does not exist")
    except (BundleError, ConfigError, UsageError) as e:
        log(f"error: {e}")
        return 2

    device = args.device
    dist = Dist(device)
    if dist.enabled and device.startswith("cuda"):
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
        torch.cuda.set_device(device)
    try:
        # Seed 0 for a head the checkpoint lacks, as the browser's loadRetriever draws it.
        retriever = ColbertRetriever.load(bundle.model_dir("retriever"), seed=0, device=device)
        generator = Generator.load(bundle.model_dir("generator"), pad_id=bundle.manifest["generator"]["padTokenId"], device=device)
        check_inputs(bundle, config, retriever.config, generator.config)
    except BundleError as e:
        log(f"error: {e}")
        return 2
    except Exception as e:  # noqa: BLE001
        log(f"error: the models in {args.bundle} could not be loaded: {e}")
        return 2
    if dist.main:
        log(f"{config['name']}: {config['steps']} steps, {config['schedule']}, loss {config['retrieverLoss']}, "
            f"{len(bundle.question_ids)} questions, {len(bundle.passage_ids)} passages on {dist.world} process(es), {device}, "
            f"torch {torch.__version__}"
            + (f", resuming at step {resume['step']}" if resume else ""))
        for warning in not_run(config):
            log(f"warning: {warning}")

    def on_step(r):
        if dist.main:
            ms = sum(r["ms"].values())
            lr, lg = r["loss"]["retriever"], r["loss"]["generator"]
            log(f"step {r['step'] + 1}/{config['steps']}: L_ret {'-' if lr is None else f'{lr:.4f}'} "
                f"L_gen {'-' if lg is None else f'{lg:.4f}'} ({ms / 1000:.2f} s)")

    def on_eval(e):
        if dist.main:
            log(f"eval at step {e['step']} ({e['split']}): accuracy {json.dumps(e['result']['accuracy'])} recall {json.dumps(e['result']['recall'])}")

    def save(ck):
        if dist.main and args.checkpoints:
            log(f"checkpoint: {write_checkpoint(args.checkpoints, ck)}")

    t0 = time.time()
    try:
        res = run_training(retriever, generator, bundle, config, dist, on_step=on_step, on_eval=on_eval, save_checkpoint=save,
                           resume=resume, stop_after=args.stop_after, per_question=args.per_question)
    except ResumeError as e:
        log(f"error: --resume {args.resume}: {e}")
        return 2
    except (ValueError, ModelConfigError) as e:  # what the trainer refuses, before the index is built
        log(f"error: {e}")
        return 2
    if dist.main:
        kind = "cuda" if device.startswith("cuda") else "cpu"
        output = {
            "config": config,
            "data": bundle.manifest.get("data", {}).get("source", os.path.basename(os.path.abspath(args.bundle))),
            "models": {w: _model_ref(bundle, args.bundle, w) for w in ("retriever", "generator")},
            "adapter": f"pytorch/{kind}" + (f" x{dist.world}" if dist.world > 1 else ""),
            "indexMs": round(res["indexMs"]),
            "wallSeconds": round(time.time() - t0),
            "stopped": res["stopped"],
            "phaseMs": res["phaseMs"],
            "evals": res["evals"],
            "steps": res["records"],
        }
        tmp = args.out + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(_finite(output), f, allow_nan=False)
            f.write("\n")
        os.replace(tmp, args.out)
        if res["stopped"]:
            log(f"stopped at step {res['stopped']['step']}: {res['stopped']['message']}")
        log(f"wrote {args.out} ({len(res['records'])} steps, {output['wallSeconds']} s)")
    dist.close()
    asked = res["stopped"] and args.stop_after is not None and res["stopped"]["step"] == args.stop_after
    return 1 if res["stopped"] and not asked else 0


if __name__ == "__main__":
    sys.exit(main())

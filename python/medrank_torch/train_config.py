"""A run's configuration as the browser resolved it (src/training/config.ts), checked for what the twin runs.

Owns: the set of TrainConfig fields and values the twin implements, and the schedule (which model
trains at which step). The bundle carries the resolved config; an unknown field or value is refused
with a ConfigError naming the field, so a newer browser's config never runs half-understood.
"""

from __future__ import annotations

import math

RETRIEVER_LOSSES = ("llm-rank", "listwise", "jomed", "pdist", "loop", "emdr2", "replug", "rag-marginal", "infonce", "none")
SCHEDULES = ("synchronous", "staged", "frozen-retriever", "retriever-only")

FIELDS = {
    "name": str, "seed": int, "steps": int, "batchSize": int, "schedule": SCHEDULES, "stagedReaderFraction": float,
    "retrieverLoss": RETRIEVER_LOSSES, "candidates": int, "sampled": int, "sampling": bool,
    "samplingTemperature": float, "llmRankMargin": float, "tauS": float, "tauG": float, "jomedPrior": bool, "jomedWeighting": bool,
    "infoNceTau": float, "inBatchNegatives": bool, "pretrainPairs": ("none",), "topM": int, "generatorContext": ("concat", "per-document"), "docMaxTokens": int,
    "retrieverSide": ("query", "both"), "retrieverTraining": ("projection", "lora", "full"), "generatorLora": dict,
    "generatorEmbeddings": bool, "generatorNorms": bool, "lrRetriever": float, "lrGenerator": float,
    "weightDecay": float, "maxGradNorm": float, "dropout": bool, "s2attn": (dict, type(None)),
    "refreshIndexEvery": int, "checkpointEvery": int, "evalSplit": ("validation", "test"), "evalAtStart": bool,
    "reportTest": bool, "evalEvery": int, "evalLimit": int, "evalAlignmentCandidates": int, "recordScoresAfter": bool,
    "probeQuestions": int, "probeEvery": int,
}


class ConfigError(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(f"config.{field}: {message}")
        self.field = field


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_config(c: dict) -> dict:
    """The config as the twin will run it, or a ConfigError naming the first field it cannot run.

    The rules of validateConfig (src/training/config.ts), field by field, so a manifest edited by
    hand (it is not hashed) cannot start a run the browser would refuse."""
    if not isinstance(c, dict):
        raise ConfigError("", "the manifest's config must be a JSON object")
    for k in c:
        if k not in FIELDS:
            raise ConfigError(k, "a field this version of the twin does not know; update medrank_torch or re-export with a matching MedRank")
    for k in FIELDS:
        if k not in c:
            raise ConfigError(k, "missing; the browser writes every field of the resolved config: re-export the bundle")

    def integer(f, lo, hi=math.inf):
        v = c[f]
        if not isinstance(v, int) or isinstance(v, bool) or v < lo or v > hi:
            raise ConfigError(f, f"must be an integer from {lo}{'' if hi == math.inf else f' to {hi}'} (got {v!r})")

    def positive(f, allow_zero=False):
        v = c[f]
        if not _num(v) or v < 0 or (not allow_zero and v == 0):
            raise ConfigError(f, f"must be a {'non-negative' if allow_zero else 'positive'} number (got {v!r})")

    def one_of(f, allowed):
        if c[f] not in allowed:
            raise ConfigError(f, f"must be one of {', '.join(allowed)} (got {c[f]!r}); this twin does not run it")

    if not isinstance(c["name"], str) or not c["name"].strip():
        raise ConfigError("name", "give the run a name")
    integer("seed", 0, 2**32 - 1)
    integer("steps", 0)
    integer("batchSize", 1, 64)
    for f, kind in FIELDS.items():
        if isinstance(kind, tuple) and all(isinstance(x, str) for x in kind):
            one_of(f, kind)
        elif kind is bool and not isinstance(c[f], bool):
            raise ConfigError(f, f"must be true or false (got {c[f]!r})")
    integer("candidates", 2, 100)
    integer("sampled", 1, 100)
    if c["sampled"] > c["candidates"]:
        raise ConfigError("sampled", f"cannot exceed candidates ({c['sampled']} > {c['candidates']})")
    for f in ("samplingTemperature", "tauS", "tauG", "infoNceTau", "lrRetriever", "lrGenerator"):
        positive(f, f.startswith("lr"))
    positive("weightDecay", True)
    positive("llmRankMargin", True)
    positive("maxGradNorm", True)
    if not (_num(c["stagedReaderFraction"]) and 0 < c["stagedReaderFraction"] < 1):
        raise ConfigError("stagedReaderFraction", f"must be between 0 and 1 (got {c['stagedReaderFraction']!r})")
    integer("topM", 1, 20)
    if c["topM"] > c["candidates"]:
        raise ConfigError("topM", f"cannot exceed candidates ({c['topM']} > {c['candidates']})")
    integer("docMaxTokens", 4, 4096)
    lora = c["generatorLora"]
    if not (isinstance(lora, dict) and set(lora) <= {"r", "alpha", "dropout", "targetModules"}
            and isinstance(lora.get("r"), int) and not isinstance(lora.get("r"), bool) and lora["r"] >= 1
            and _num(lora.get("alpha")) and lora["alpha"] > 0 and _num(lora.get("dropout")) and 0 <= lora["dropout"] < 1
            and isinstance(lora.get("targetModules"), list) and lora["targetModules"]
            and all(isinstance(m, str) and m for m in lora["targetModules"])):
        raise ConfigError("generatorLora", 'needs { r: integer >= 1, alpha > 0, dropout in [0, 1), targetModules: ["q_proj", ...] }')
    s2 = c["s2attn"]
    if s2 is not None:
        ok = isinstance(s2, dict) and set(s2) == {"ratio", "shift"} and _num(s2["ratio"]) and 0 < s2["ratio"] <= 1 \
            and s2["shift"] in ("roll", "split")
        # The attention tiles T by round(1 / ratio) groups: a ratio that is not 1/n has no tiling.
        if not ok or abs(1 / s2["ratio"] - round(1 / s2["ratio"])) > 1e-9:
            raise ConfigError("s2attn", 'must be null or { ratio: 1/n in (0, 1], shift: "roll" | "split" }')
    integer("refreshIndexEvery", 0)
    integer("checkpointEvery", 0)
    if (c["retrieverSide"] == "both" and c["refreshIndexEvery"] > 0 and c["checkpointEvery"] > 0
            and c["checkpointEvery"] % c["refreshIndexEvery"] != 0):
        raise ConfigError("checkpointEvery", f"must be a multiple of refreshIndexEvery ({c['refreshIndexEvery']})")
    if c["steps"] == 0 and not c["evalAtStart"]:
        # As the page's validateConfig: 0 steps is an evaluation only, which needs evalAtStart.
        raise ConfigError("steps", 'must be at least 1; 0 means an evaluation only, which needs evalAtStart on')
    integer("evalEvery", 0)
    integer("evalLimit", 0)
    integer("evalAlignmentCandidates", 2, 100)
    integer("probeQuestions", 0, 64)
    integer("probeEvery", 1)
    if c["inBatchNegatives"]:
        raise ConfigError("inBatchNegatives", "in-batch negatives are not in the twin yet: run this experiment in the browser, "
                          "or turn them off")
    if c["retrieverLoss"] == "infonce" and c["schedule"] != "retriever-only":
        raise ConfigError("retrieverLoss", "infonce trains the retriever alone: use it with schedule 'retriever-only'")
    if c["retrieverLoss"] == "none" and c["schedule"] != "frozen-retriever":
        raise ConfigError("retrieverLoss", "'none' leaves the retriever untrained: use schedule 'frozen-retriever'")
    return c


def not_run(c: dict) -> list[str]:
    """What of a checked config the twin accepts but does not run, one sentence each (train.py warns).

    The probe set (src/training/probe.ts) scores questions without an update: it changes no weight
    and no draw, so the twin's steps are the browser's without it; its records carry no probes."""
    out = []
    if c["probeQuestions"] > 0:
        out.append(f"probeQuestions {c['probeQuestions']}: the twin does not score the probe set; its step records carry "
                   "no probes (the steps are the same without them). Run in the browser to follow probe questions.")
    return out


def phase_at(c: dict, step: int) -> dict:
    """Does the retriever / generator train at this step?"""
    s = c["schedule"]
    if s == "synchronous":
        return {"retriever": True, "generator": True}
    if s == "frozen-retriever":
        return {"retriever": False, "generator": True}
    if s == "retriever-only":
        return {"retriever": True, "generator": False}
    reader = step < _js_round(c["steps"] * c["stagedReaderFraction"])
    return {"retriever": not reader, "generator": reader}


def _js_round(x: float) -> int:
    """JavaScript's Math.round: halves go up (Python's round() goes to even)."""
    return math.floor(x + 0.5)

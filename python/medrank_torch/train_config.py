"""A run's configuration as the browser resolved it (src/training/config.ts), checked for what the twin runs.

Owns: the set of TrainConfig fields and values the twin implements, and the schedule (which model
trains at which step). The bundle carries the resolved config; an unknown field or value is refused
with a ConfigError naming the field, so a newer browser's config never runs half-understood.
"""

from __future__ import annotations

RETRIEVER_LOSSES = ("llm-rank", "listwise", "jomed", "pdist", "loop", "emdr2", "replug", "rag-marginal", "infonce", "none")
SCHEDULES = ("synchronous", "staged", "frozen-retriever", "retriever-only")

FIELDS = {
    "name": str, "seed": int, "steps": int, "batchSize": int, "schedule": SCHEDULES, "stagedReaderFraction": float,
    "retrieverLoss": RETRIEVER_LOSSES, "candidates": int, "sampled": int, "sampling": bool,
    "samplingTemperature": float, "tauS": float, "tauG": float, "jomedPrior": bool, "jomedWeighting": bool,
    "infoNceTau": float, "topM": int, "generatorContext": ("concat", "per-document"), "docMaxTokens": int,
    "retrieverSide": ("query", "both"), "retrieverTraining": ("projection", "lora", "full"), "generatorLora": dict,
    "generatorEmbeddings": bool, "generatorNorms": bool, "lrRetriever": float, "lrGenerator": float,
    "weightDecay": float, "maxGradNorm": float, "dropout": bool, "s2attn": (dict, type(None)),
    "refreshIndexEvery": int, "checkpointEvery": int, "evalSplit": ("validation", "test"), "evalAtStart": bool,
    "reportTest": bool, "evalEvery": int, "evalLimit": int, "evalAlignmentCandidates": int, "recordScoresAfter": bool,
}


class ConfigError(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(f"config.{field}: {message}")
        self.field = field


def check_config(c: dict) -> dict:
    """The config as the twin will run it, or a ConfigError naming the first field it cannot run."""
    if not isinstance(c, dict):
        raise ConfigError("", "the manifest's config must be a JSON object")
    for k in c:
        if k not in FIELDS:
            raise ConfigError(k, "a field this version of the twin does not know; update medrank_torch or re-export with a matching MedRank")
    for k, kind in FIELDS.items():
        if k not in c:
            raise ConfigError(k, "missing; the browser writes every field of the resolved config: re-export the bundle")
        v = c[k]
        if isinstance(kind, tuple) and all(isinstance(x, str) for x in kind):
            if v not in kind:
                raise ConfigError(k, f"must be one of {', '.join(kind)} (got {v!r}); this twin does not run it")
        elif kind is float:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v in (float("inf"), float("-inf")):
                raise ConfigError(k, f"must be a finite number (got {v!r})")
        elif kind is int:
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ConfigError(k, f"must be a non-negative integer (got {v!r})")
        elif isinstance(kind, tuple):
            if not isinstance(v, kind):
                raise ConfigError(k, f"has the wrong type (got {v!r})")
        elif not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
            raise ConfigError(k, f"has the wrong type (got {v!r})")
    if c["batchSize"] < 1 or c["candidates"] < 2 or not (1 <= c["sampled"] <= c["candidates"]):
        raise ConfigError("sampled", "needs batchSize >= 1, candidates >= 2 and 1 <= sampled <= candidates")
    if not (1 <= c["topM"] <= c["candidates"]):
        raise ConfigError("topM", f"must be from 1 to candidates ({c['candidates']})")
    s2 = c["s2attn"]
    if s2 is not None and (not (0 < s2.get("ratio", 0) <= 1) or s2.get("shift") not in ("roll", "split")):
        raise ConfigError("s2attn", 'must be null or { ratio in (0, 1], shift: "roll" | "split" }')
    lora = c["generatorLora"]
    if not (isinstance(lora.get("r"), int) and lora["r"] >= 1 and lora.get("alpha", 0) > 0 and 0 <= lora.get("dropout", -1) < 1
            and isinstance(lora.get("targetModules"), list) and lora["targetModules"]):
        raise ConfigError("generatorLora", "needs { r >= 1, alpha > 0, dropout in [0, 1), targetModules: [...] }")
    if c["retrieverLoss"] == "infonce" and c["schedule"] != "retriever-only":
        raise ConfigError("retrieverLoss", "infonce trains the retriever alone: use it with schedule 'retriever-only'")
    return c


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
    import math

    return math.floor(x + 0.5)

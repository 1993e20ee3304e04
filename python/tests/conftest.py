"""Shared fixtures: experiment bundles exported by the browser side (npm run export-experiment), once per session."""

import json
import os
import shutil
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

TINY = {
    "data": "test/fixtures/tiny-qa",
    "retriever": "test/fixtures/models/tiny-colbert",
    "generator": "test/fixtures/models/tiny-llama",
}


def export_bundle(out: str, config: dict, models: dict = TINY) -> str:
    cfg = out + ".config.json"
    with open(cfg, "w") as f:
        json.dump(config, f)
    cmd = ["npx", "tsx", "scripts/export-experiment.ts", cfg, "--out", out, "--data", models["data"], "--format", "jsonl",
           "--retriever", models["retriever"], "--generator", models["generator"]]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


TINY_JMLR = {"preset": "jmlr-code", "steps": 4, "batchSize": 2, "candidates": 4, "sampled": 3, "topM": 2, "docMaxTokens": 24,
             "evalAtStart": True, "checkpointEvery": 0, "evalAlignmentCandidates": 4, "recordScoresAfter": True,
             "name": "tiny-jmlr"}


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory) -> str:
    return export_bundle(str(tmp_path_factory.mktemp("bundles") / "tiny-jmlr"), TINY_JMLR)


def copy_bundle(src: str, dst: str, **config) -> str:
    """A copy of a bundle with config fields changed (the manifest itself is not hashed)."""
    shutil.copytree(src, dst)
    p = os.path.join(dst, "manifest.json")
    m = json.load(open(p))
    m["config"].update(config)
    json.dump(m, open(p, "w"))
    return dst

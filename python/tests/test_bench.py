"""The twin's step benchmark (medrank_torch.bench) at toy sizes, so its code cannot rot: the synthetic
bundle loads and verifies like an exported one, and one Trainer.step on it gives a well-formed record."""

import json
import math
import os

from conftest import ROOT
from medrank_torch import bench
from medrank_torch.bundle import load_bundle


def test_synthetic_bundle_steps(tmp_path):
    folder = bench.build_synthetic_bundle(str(tmp_path / "toy"), "toy", seed=3)
    b = load_bundle(folder, verify=True)
    assert len(b.passage_ids) == 20 and len(b.question_ids) == 8
    assert all(len(b.colbert_docs[p]) == 24 and len(b.gen_docs[p]) == 24 for p in range(20))
    assert b.query_ids.shape == (8, bench.QUERY_MAX_LEN) and all(b.options_of(q)[1] in range(4) for q in range(8))
    records = []
    row = bench.bench_step(folder, steps=1, warmup=0, index="encode", what="step-toy", on_record=records.append)
    (r,) = records
    c = b.config
    assert (c["candidates"], c["sampled"], c["batchSize"]) == (6, 3, 2)
    assert math.isfinite(r["loss"]["retriever"]) and math.isfinite(r["loss"]["generator"])
    assert len(r["questions"]) == 2
    for q in r["questions"]:
        assert len(q["candidates"]) == 6 and sum(x["sampled"] for x in q["candidates"]) == 3
        assert all((x["utility"] is not None) == x["sampled"] for x in q["candidates"])
    assert row["impl"] == "pytorch-twin" and row["what"] == "step-toy" and row["seconds"] > 0
    assert set(row["phases"]) == set(r["ms"])


def test_cli_prints_one_json_row(capsys):
    assert bench.main(["--json", "--shapes", "toy", "--steps", "1", "--warmup", "0", "--threads", "1"]) == 0
    (line,) = capsys.readouterr().out.strip().splitlines()
    row = json.loads(line)
    assert row["what"] == "step-toy" and row["threads"] == 1 and row["device"] == "cpu"


def test_config_is_the_jmlr_code_preset():
    with open(os.path.join(ROOT, "public/presets/jmlr-code.json")) as f:
        preset = json.load(f)
    for k, v in preset.items():
        assert bench.JMLR_CODE[k] == v, k

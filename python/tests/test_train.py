"""The command line end to end on a tiny bundle: resume equals an uninterrupted run, torchrun with two
processes equals one, a non-finite loss stops the run, and bad bundles exit 2 writing nothing."""

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, copy_bundle
from medrank_torch.train import main


def run(bundle, out, *extra):
    return main([bundle, "--out", out, *extra])


def records(path):
    with open(path) as f:
        r = json.load(f)
    for s in r["steps"]:
        s.pop("ms")
    for e in r["evals"]:
        e["result"].pop("ms")
    return r


def test_results_have_the_runners_schema(tiny_bundle, tmp_path):
    out = str(tmp_path / "r.json")
    assert run(tiny_bundle, out) == 0
    r = json.load(open(out))
    assert set(r) >= {"config", "data", "models", "adapter", "indexMs", "wallSeconds", "stopped", "phaseMs", "evals", "steps"}
    assert r["adapter"] == "pytorch/cpu" and len(r["steps"]) == 4 and r["stopped"] is None
    s = r["steps"][0]
    assert set(s) == {"step", "trains", "loss", "questions", "alignment", "recall", "ms", "gpuBytes"}
    c = s["questions"][0]["candidates"]
    assert len(c) == 4 and sum(x["sampled"] for x in c) == 3
    assert set(c[0]) == {"docId", "score", "scoreAfter", "prob", "sampled", "utility", "gold"}
    assert abs(sum(x["prob"] for x in c) - 1) < 1e-9
    assert all((x["utility"] is not None) == x["sampled"] for x in c)
    assert [e["step"] for e in r["evals"]] == [0, 4]
    assert s["loss"]["retriever"] > 0 and s["loss"]["generator"] > 0


def test_resume_equals_uninterrupted(tiny_bundle, tmp_path):
    full, part, resumed = (str(tmp_path / n) for n in ("full.json", "part.json", "resumed.json"))
    ck = str(tmp_path / "ck")
    assert run(tiny_bundle, full) == 0
    assert run(tiny_bundle, part, "--stop-after", "2", "--checkpoints", ck) == 0
    assert os.path.isfile(os.path.join(ck, "step-00002.pt"))
    assert run(tiny_bundle, resumed, "--resume", os.path.join(ck, "latest.pt")) == 0
    a, b = records(full), records(resumed)
    assert a["steps"] == b["steps"]
    assert a["evals"] == b["evals"]


def test_torchrun_two_processes_equal_one(tiny_bundle, tmp_path):
    one, two = str(tmp_path / "one.json"), str(tmp_path / "two.json")
    assert run(tiny_bundle, one) == 0
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "python"), "OMP_NUM_THREADS": "1"}
    # --redirects/--tee: torch 1.13's launcher cannot parse its own defaults on Python 3.11 (Debian bookworm).
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--redirects", "1", "--tee", "2",
                        "--nproc_per_node", "2", "--master_port", "29517",
                        "-m", "medrank_torch.train", tiny_bundle, "--out", two], env=env, capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    a, b = records(one), records(two)
    assert len(a["steps"]) == len(b["steps"]) == 4
    for sa, sb in zip(a["steps"], b["steps"]):
        for k in ("retriever", "generator"):
            assert abs(sa["loss"][k] - sb["loss"][k]) <= 1e-5 * max(1, abs(sa["loss"][k]))
        for qa, qb in zip(sa["questions"], sb["questions"]):
            assert [c["docId"] for c in qa["candidates"]] == [c["docId"] for c in qb["candidates"]]
            assert [c["sampled"] for c in qa["candidates"]] == [c["sampled"] for c in qb["candidates"]]
            for ca, cb in zip(qa["candidates"], qb["candidates"]):
                assert abs(ca["score"] - cb["score"]) <= 1e-5 * max(1, abs(ca["score"]))
    assert [e["result"]["accuracy"] for e in a["evals"]] == [e["result"]["accuracy"] for e in b["evals"]]
    assert json.load(open(two))["adapter"] == "pytorch/cpu x2"


def test_non_finite_loss_stops_the_run(tiny_bundle, tmp_path):
    b = copy_bundle(tiny_bundle, str(tmp_path / "b"), lrGenerator=1e30, lrRetriever=1e30, maxGradNorm=0)
    out = str(tmp_path / "r.json")
    assert run(b, out) == 1
    r = json.load(open(out))
    assert r["stopped"] and "not finite" in r["stopped"]["message"]
    assert len(r["steps"]) == r["stopped"]["step"] < 4
    for s in r["steps"]:
        assert all(v is None or abs(v) < 1e30 for v in s["loss"].values())


def test_probe_set_is_accepted_ignored_and_said(tiny_bundle, tmp_path, capsys):
    """A bundle with a probe set runs the browser's steps (the probe changes no weight or draw), warns
    that the twin does not score it, and writes no probes; an out-of-range value is refused."""
    plain, probed = str(tmp_path / "plain.json"), str(tmp_path / "probed.json")
    assert run(tiny_bundle, plain) == 0
    capsys.readouterr()
    b = copy_bundle(tiny_bundle, str(tmp_path / "b"), probeQuestions=2, probeEvery=2)
    assert run(b, probed) == 0
    err = capsys.readouterr().err
    assert "warning: probeQuestions 2: the twin does not score the probe set" in err, err
    a, p = records(plain), records(probed)
    assert all("probes" not in s for s in p["steps"])
    assert a["steps"] == p["steps"]
    b2 = copy_bundle(tiny_bundle, str(tmp_path / "b2"), probeEvery=0)
    _expect_refusal(b2, tmp_path, capsys, "config.probeEvery")


def _expect_refusal(bundle, tmp_path, capsys, *needles):
    out = str(tmp_path / "refused.json")
    assert run(bundle, out) == 2
    err = capsys.readouterr().err
    for n in needles:
        assert n in err, err
    assert not os.path.exists(out)


def test_missing_file(tiny_bundle, tmp_path, capsys):
    b = copy_bundle(tiny_bundle, str(tmp_path / "b"))
    os.remove(os.path.join(b, "ids.json"))
    _expect_refusal(b, tmp_path, capsys, "ids.json", "missing")


def test_truncated_file(tiny_bundle, tmp_path, capsys):
    b = copy_bundle(tiny_bundle, str(tmp_path / "b"))
    p = os.path.join(b, "inputs.safetensors")
    data = open(p, "rb").read()
    open(p, "wb").write(data[: len(data) // 2])
    _expect_refusal(b, tmp_path, capsys, "inputs.safetensors", "truncated")


def test_hash_mismatch(tiny_bundle, tmp_path, capsys):
    b = copy_bundle(tiny_bundle, str(tmp_path / "b"))
    p = os.path.join(b, "generator", "model.safetensors")
    data = bytearray(open(p, "rb").read())
    data[-1] ^= 0xFF
    open(p, "wb").write(bytes(data))
    _expect_refusal(b, tmp_path, capsys, "model.safetensors", "sha256")


def test_newer_format_version(tiny_bundle, tmp_path, capsys):
    b = copy_bundle(tiny_bundle, str(tmp_path / "b"))
    p = os.path.join(b, "manifest.json")
    m = json.load(open(p))
    m["formatVersion"] = 99
    json.dump(m, open(p, "w"))
    _expect_refusal(b, tmp_path, capsys, "manifest.json", "newer", "update")


def test_unsupported_config(tiny_bundle, tmp_path, capsys):
    b = copy_bundle(tiny_bundle, str(tmp_path / "b"), retrieverLoss="colbert-kd")
    _expect_refusal(b, tmp_path, capsys, "config.retrieverLoss", "colbert-kd")
    b2 = copy_bundle(tiny_bundle, str(tmp_path / "b2"), warmupSteps=10)
    _expect_refusal(b2, tmp_path, capsys, "config.warmupSteps")


@pytest.mark.parametrize("text", ["{", '{"format": "medrank-experiment", "formatVersion": 1, "__proto__": {}}', "[" * 100000])
def test_malformed_manifest(tiny_bundle, tmp_path, capsys, text):
    b = copy_bundle(tiny_bundle, str(tmp_path / "b"))
    open(os.path.join(b, "manifest.json"), "w").write(text)
    _expect_refusal(b, tmp_path, capsys, "manifest.json")


def test_resume_after_a_stop_between_index_refreshes(tiny_bundle, tmp_path):
    # Documents train ('both') and the index is rebuilt every 2 steps: a stop after step 3 keeps the
    # step-2 checkpoint (a resume from 3 would search an index the uninterrupted run never had).
    b = copy_bundle(tiny_bundle, str(tmp_path / "b"), refreshIndexEvery=2, checkpointEvery=2, steps=5)
    full, part, resumed = (str(tmp_path / n) for n in ("full.json", "part.json", "resumed.json"))
    ck = str(tmp_path / "ck")
    assert run(b, full) == 0
    assert run(b, part, "--stop-after", "3", "--checkpoints", ck) == 0
    assert sorted(os.listdir(ck)) == ["latest.pt", "step-00002.pt"]
    assert run(b, resumed, "--resume", os.path.join(ck, "latest.pt")) == 0
    assert records(full)["steps"] == records(resumed)["steps"]


def _rewrite_inputs(bundle, change):
    """Change inputs.safetensors and put its new size and hash in the manifest (a consistent but wrong bundle)."""
    import hashlib

    from medrank_torch import safetensors

    p = os.path.join(bundle, "inputs.safetensors")
    t, meta = safetensors.load(p)
    change(t)
    safetensors.save(p, t, meta)
    m = json.load(open(os.path.join(bundle, "manifest.json")))
    m["files"]["inputs.safetensors"] = {"bytes": os.path.getsize(p), "sha256": hashlib.sha256(open(p, "rb").read()).hexdigest()}
    json.dump(m, open(os.path.join(bundle, "manifest.json"), "w"))


def test_token_id_outside_the_vocabulary(tiny_bundle, tmp_path, capsys):
    b = copy_bundle(tiny_bundle, str(tmp_path / "b"))

    def bad(t):
        t["gen.answer_ids"][0] = 10**6

    _rewrite_inputs(b, bad)
    _expect_refusal(b, tmp_path, capsys, "gen.answer_ids", "vocabulary")


def test_float_tensor_where_ids_belong(tiny_bundle, tmp_path, capsys):
    b = copy_bundle(tiny_bundle, str(tmp_path / "b"))

    def bad(t):
        t["question.split"] = t["question.split"].float()

    _rewrite_inputs(b, bad)
    _expect_refusal(b, tmp_path, capsys, "question.split", "I32")


def test_file_not_in_the_manifest(tiny_bundle, tmp_path, capsys):
    b = copy_bundle(tiny_bundle, str(tmp_path / "b"))
    open(os.path.join(b, "generator", "model-00001-of-00002.safetensors"), "wb").write(b"\0" * 16)
    _expect_refusal(b, tmp_path, capsys, "model-00001-of-00002.safetensors", "not in the manifest")


def test_nan_in_the_manifest(tiny_bundle, tmp_path, capsys):
    b = copy_bundle(tiny_bundle, str(tmp_path / "b"))
    p = os.path.join(b, "manifest.json")
    text = open(p).read()
    assert '"tauS": 1' in text
    open(p, "w").write(text.replace('"tauS": 1', '"tauS": NaN', 1))
    _expect_refusal(b, tmp_path, capsys, "manifest.json", "NaN")


def test_a_config_the_browser_would_refuse(tiny_bundle, tmp_path, capsys):
    b = copy_bundle(tiny_bundle, str(tmp_path / "b"), generatorLora={"r": 2, "alpha": 4, "dropout": 0, "targetModules": [1]})
    _expect_refusal(b, tmp_path, capsys, "config.generatorLora")
    b2 = copy_bundle(tiny_bundle, str(tmp_path / "b2"), s2attn={"ratio": "1/4", "shift": "roll"})
    _expect_refusal(b2, tmp_path, capsys, "config.s2attn")

"""The demo's pretraining and checks on the tiny bundle: per-question evaluation agrees with the
aggregate it is reported beside, the reading check scores the passages it is given, and
pretraining lowers both losses and writes weights that load under the checkpoint's names."""

import json
import os
import shutil

import pytest
import torch

from medrank_torch import safetensors
from medrank_torch.bundle import load_bundle
from medrank_torch.generator import Generator
from medrank_torch.pretrain import lr_at, main as pretrain_main
from medrank_torch.reading import reading
from medrank_torch.train import main as train_main


def test_per_question_outcomes_average_to_the_reported_metrics(tiny_bundle, tmp_path):
    out = str(tmp_path / "r.json")
    assert train_main([tiny_bundle, "--out", out, "--steps", "0", "--per-question"]) == 0
    evals = json.load(open(out))["evals"]
    assert evals, "evalAtStart gives at least one evaluation"
    for e in evals:
        r, pq = e["result"], e["result"]["perQuestion"]
        assert len(pq["ids"]) == r["questions"]
        for k, acc in r["accuracy"].items():
            scored = [v for v in pq["correct"][k] if v is not None]
            assert sum(scored) / len(scored) == pytest.approx(acc, abs=1e-12)
        for k, v in r["recall"].items():
            assert sum(pq["recall"][str(k)]) / len(pq["ids"]) == pytest.approx(v, abs=1e-12)
        assert sum(pq["rr10"]) / len(pq["ids"]) == pytest.approx(r["mrr10"], abs=1e-12)
        rho = [v for v in pq["spearman"] if v is not None]
        assert sum(rho) / len(rho) == pytest.approx(r["alignment"]["spearman"], abs=1e-12)
    # Without the flag the results keep the browser's EvalResult shape.
    plain = str(tmp_path / "p.json")
    assert train_main([tiny_bundle, "--out", plain, "--steps", "0"]) == 0
    assert all("perQuestion" not in e["result"] for e in json.load(open(plain))["evals"])


def test_reading_scores_gold_and_distractor_passages(tiny_bundle):
    b = load_bundle(tiny_bundle)
    g = Generator.load(b.model_dir("generator"), pad_id=b.manifest["generator"]["padTokenId"])
    split = next(s for s in (2, 1, 0) if any(x == s and b.gold_docs[q] for q, x in enumerate(b.split)))
    qs = [q for q in range(len(b.question_ids)) if b.split[q] == split and b.gold_docs[q]]
    # The "distractor" of each question: its own gold passage, so both NLLs must be equal.
    same = {b.question_ids[q]: b.passage_ids[b.gold_docs[q][0]] for q in qs}
    res = reading(g, b, same, split)
    assert res["questions"] == len(qs)
    assert res["medianGap"] == pytest.approx(0, abs=1e-6)
    assert res["perQuestion"]["gold"] == pytest.approx(res["perQuestion"]["distractor"], abs=1e-6)
    # Another passage changes the likelihood of some answer.
    other = {b.question_ids[q]: b.passage_ids[(b.gold_docs[q][0] + 1) % len(b.passage_ids)] for q in qs}
    res2 = reading(g, b, other, split)
    assert any(abs(d - x) > 1e-4 for d, x in zip(res2["perQuestion"]["distractor"], res2["perQuestion"]["gold"]))


def test_lr_schedule_warms_up_then_decays():
    assert lr_at(0, 100, 1.0, 10) == pytest.approx(0.1)
    assert lr_at(9, 100, 1.0, 10) == pytest.approx(1.0)
    assert lr_at(10, 100, 1.0, 10) == pytest.approx(1.0)
    assert lr_at(55, 100, 1.0, 10) == pytest.approx(0.5)
    assert lr_at(100, 100, 1.0, 10) == pytest.approx(0.0, abs=1e-12)


def test_pretraining_lowers_both_losses_and_writes_loadable_weights(tiny_bundle, tmp_path):
    b = load_bundle(tiny_bundle)
    work = tmp_path / "work"
    for role in ("retriever", "generator"):
        shutil.copytree(b.model_dir(role), work / "init" / role)
    # A curriculum of one repeated example (learnable) and inverse-cloze pairs of the bundle's documents.
    prompt = b.bos + b.context + b.gen_docs[0] + b.question[0]
    answer = b.answer[0]
    n = 40 * 4
    t = {
        "gen.prompt_ids": torch.tensor(prompt * n, dtype=torch.int32),
        "gen.prompt_offsets": torch.tensor([len(prompt) * i for i in range(n + 1)], dtype=torch.int32),
        "gen.answer_ids": torch.tensor(answer * n, dtype=torch.int32),
        "gen.answer_offsets": torch.tensor([len(answer) * i for i in range(n + 1)], dtype=torch.int32),
        "ict.query_ids": b.query_ids.to(torch.int32),
        "ict.query_mask": b.query_mask.to(torch.int32),
        "ict.positive": torch.tensor([g[0] if g else 0 for g in b.gold_docs], dtype=torch.int32),
    }
    t["ict.doc_ids"] = torch.tensor(b.colbert_docs.flat, dtype=torch.int32)
    t["ict.doc_keep"] = torch.tensor(b.colbert_keep.flat, dtype=torch.int32)
    t["ict.doc_offsets"] = torch.tensor(b.colbert_docs.offsets, dtype=torch.int32)
    safetensors.save(str(work / "pretrain.safetensors"), t)
    batch = min(4, len(set(t["ict.positive"].tolist())))
    settings = {"seed": 3, "threads": 1,
                "retriever": {"steps": 30, "batch": batch, "lr": 1e-3, "tau": 0.05, "warmup": 2},
                "generator": {"steps": 40, "batch": 4, "lr": 3e-3, "warmup": 2, "lmWeight": 0.5}}
    assert pretrain_main([str(work), "--settings", json.dumps(settings)]) == 0
    log = json.load(open(work / "out" / "log.json"))
    g, r = log["generator"]["answerNll"], log["retriever"]["infoNce"]
    assert len(g) == 40 and len(r) == 30
    assert sum(g[-5:]) / 5 < 0.5 * sum(g[:5]) / 5
    assert sum(r[-5:]) / 5 < sum(r[:5]) / 5
    for role in ("retriever", "generator"):
        before, _ = safetensors.load(str(work / "init" / role / "model.safetensors"))
        after, _ = safetensors.load(str(work / "out" / role / "model.safetensors"))
        assert sorted(after) == sorted(before)
        assert all(after[k].shape == before[k].shape for k in before)
        assert any(not torch.equal(after[k], before[k]) for k in before)
    # The generator loads from the written weights and its answer NLL on the example fell.
    shutil.copy(work / "out" / "generator" / "model.safetensors", work / "init" / "generator" / "model.safetensors")
    g2 = Generator.load(str(work / "init" / "generator"), pad_id=b.manifest["generator"]["padTokenId"])
    g0 = Generator.load(b.model_dir("generator"), pad_id=b.manifest["generator"]["padTokenId"])
    assert float(g2.answer_nll([(prompt, answer)])[1][0]) < float(g0.answer_nll([(prompt, answer)])[1][0])
    assert os.path.getsize(work / "out" / "log.json") > 0


def test_phase_two_continues_from_phase_one(tiny_bundle, tmp_path):
    """generator2 trains on its own curriculum (gen2.*) from phase 1's weights, not from the init."""
    b = load_bundle(tiny_bundle)
    work = tmp_path / "work"
    shutil.copytree(b.model_dir("generator"), work / "init" / "generator")
    prompt, answer = b.bos + b.context + b.gen_docs[0] + b.question[0], b.answer[0]
    n = 30 * 4
    t = {}
    for prefix in ("gen", "gen2"):
        t[f"{prefix}.prompt_ids"] = torch.tensor(prompt * n, dtype=torch.int32)
        t[f"{prefix}.prompt_offsets"] = torch.tensor([len(prompt) * i for i in range(n + 1)], dtype=torch.int32)
        t[f"{prefix}.answer_ids"] = torch.tensor(answer * n, dtype=torch.int32)
        t[f"{prefix}.answer_offsets"] = torch.tensor([len(answer) * i for i in range(n + 1)], dtype=torch.int32)
    safetensors.save(str(work / "pretrain.safetensors"), t)
    phase = {"steps": 30, "batch": 4, "lr": 3e-3, "warmup": 2, "lmWeight": 0.5}
    settings = {"seed": 3, "threads": 1, "retriever": {"steps": 0}, "generator": phase, "generator2": {**phase, "steps": 10}}
    assert pretrain_main([str(work), "--settings", json.dumps(settings)]) == 0
    log = json.load(open(work / "out" / "log.json"))
    g1, g2 = log["generator"]["answerNll"], log["generator2"]["answerNll"]
    assert len(g1) == 30 and len(g2) == 10
    assert g2[0] < 0.5 * g1[0]  # it starts where phase 1 ended, not from the initial weights
    assert g2[0] == pytest.approx(g1[-1], rel=0.5)

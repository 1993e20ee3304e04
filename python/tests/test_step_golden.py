"""One full LLM-Rank step of the twin against test/goldens/step.json, the independent PyTorch reference
the browser's step is tested on (scripts/goldens/make_step_golden.py; the twin does not import it):
token ids, the candidates' scores and order, the utilities, both losses and the gradients."""

import json
import os

import torch

from conftest import ROOT, export_bundle
from medrank_torch.bundle import load_bundle
from medrank_torch.colbert import ColbertRetriever
from medrank_torch.dist import Dist
from medrank_torch.generator import Generator
from medrank_torch.index import build_index
from medrank_torch.step import Trainer
from medrank_torch.train_config import check_config

G = json.load(open(os.path.join(ROOT, "test/goldens/step.json")))


def test_one_step_matches_the_pytorch_golden(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    with open(data / "corpus.jsonl", "w") as f:
        for p in G["passages"]:
            f.write(json.dumps({"id": p["id"], "title": p["title"], "text": p["text"]}) + "\n")
    with open(data / "questions.jsonl", "w") as f:
        f.write(json.dumps({"id": "g", "question": G["question"], "answer": G["answer"], "split": "train"}) + "\n")
    config = {
        "name": "golden", "steps": 1, "batchSize": 1, "candidates": 4, "sampled": 3, "sampling": False, "topM": 2,
        "docMaxTokens": G["docMaxTokens"], "retrieverSide": "both", "retrieverTraining": "full", "dropout": False,
        "s2attn": None, "refreshIndexEvery": 0, "generatorLora": {"r": 2, "alpha": 4, "dropout": 0, "targetModules": ["q_proj", "v_proj"]},
    }
    models = {"data": str(data), "retriever": "test/fixtures/models/tiny-colbert", "generator": "test/fixtures/models/tiny-llama"}
    b = load_bundle(export_bundle(str(tmp_path / "bundle"), config, models))
    c = check_config(dict(b.config))
    # Token ids first: a tokenizer or prompt-format difference shows here, not as a loss gap.
    assert b.query_ids[0].tolist() == G["queryIds"]
    assert b.answer[0] == G["answerIds"]
    r = ColbertRetriever.load(b.model_dir("retriever"), seed=c["seed"])
    g = Generator.load(b.model_dir("generator"), pad_id=b.manifest["generator"]["padTokenId"])
    dist = Dist()
    t = Trainer(r, g, b, [0], build_index(r, b, dist), c, dist)
    assert t.prompts.example(0, [G["order"][0], G["order"][1]])[0] == G["promptIds"]["lm"]
    names = {**{f"retriever:{n}": p for n, p in r.named_parameters()}, **{f"generator:{n}": p for n, p in g.named_parameters()}}
    grads = {}

    def capture(_):
        for k in [*[k for k in G["grads"] if not k.endswith("_rows")], "generator:lm_head.weight"]:
            grads[k] = names[k].grad.detach().clone()

    t.before_update = capture
    rec = t.step()
    cands = rec["questions"][0]["candidates"]
    by_id = {x["docId"]: x for x in cands}
    for i, p in enumerate(G["passages"]):
        assert abs(by_id[p["id"]]["score"] - G["scores"][i]) < 1e-4
    assert [x["docId"] for x in cands] == [G["passages"][i]["id"] for i in G["order"]]
    sampled = [x["utility"] for x in cands if x["sampled"]]
    assert max(abs(a - w) for a, w in zip(sampled, G["nllMean"])) < 1e-4
    assert abs(rec["loss"]["retriever"] - G["lossRank"]) < 1e-5
    assert abs(rec["loss"]["generator"] - G["lossLM"]) < 1e-5
    wanted = [k for k in G["grads"] if not k.endswith("_rows")]
    assert len(wanted) == 4
    for k in wanted:
        want = torch.tensor(G["grads"][k])
        got = grads[k].reshape(-1)
        print(f"{k}: max abs diff {float((got - want).abs().max()):.2e} (max |grad| {float(want.abs().max()):.2e})")
        assert (got - want).abs().max() <= 1e-3 * want.abs().max() + 1e-6, k
    head = G["grads"]["generator:lm_head.weight_rows"]
    for row, values in zip(head["rows"], head["values"]):
        want = torch.tensor(values)
        assert (grads["generator:lm_head.weight"][row] - want).abs().max() <= 1e-3 * want.abs().max() + 1e-6

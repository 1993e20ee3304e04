"""Does the generator read? Answer likelihood with the gold passage against a look-alike passage.

Owns: for each question of a split that has a distractor (given as {question id: passage id}),
the mean answer-token NLL of its answer with no document, with its first gold passage and with
the distractor alone, the option accuracy with the distractor alone, and the median NLL gap
(distractor - gold): how much the generator's answer likelihood depends on reading the right
passage. The demo's distractor of a question is its look-alike condition's passage on the same
fact (scripts/demo-experiments.ts writes the map).

usage: python -m medrank_torch.reading BUNDLE --distractors MAP.json --split test --out OUT.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

import torch

from .bundle import load_bundle
from .generator import Generator
from .prompts import PromptBuilder, nll_many

SPLIT = {"train": 0, "validation": 1, "test": 2}


def reading(generator, bundle, distractors: dict, split: int) -> dict:
    prompts = PromptBuilder(bundle)
    at = {p: i for i, p in enumerate(bundle.passage_ids)}
    qs = [q for q in range(len(bundle.question_ids))
          if bundle.split[q] == split and bundle.question_ids[q] in distractors and bundle.gold_docs[q]]
    examples, plan = [], []
    for q in qs:
        d = at[distractors[bundle.question_ids[q]]]
        o = bundle.options_of(q)
        base = len(examples)
        for docs in ([], [bundle.gold_docs[q][0]], [d]):
            examples.append(prompts.example(q, docs))
        opt_at = len(examples)
        if o is not None:
            p = prompts.prompt(q, [d])
            examples.extend((p, opt) for opt in o[0])
        plan.append((q, base, opt_at, o))
    with torch.no_grad():
        mean = nll_many(generator, examples)[1]
    none, gold, dis, correct = [], [], [], []
    for q, base, opt_at, o in plan:
        none.append(float(mean[base]))
        gold.append(float(mean[base + 1]))
        dis.append(float(mean[base + 2]))
        if o is not None:
            scores = [mean[opt_at + j] for j in range(len(o[0]))]
            correct.append(int(min(range(len(scores)), key=lambda j: scores[j]) == o[1]))
    gaps = [d - g for d, g in zip(dis, gold)]
    return {
        "questions": len(qs),
        "medianNll": {"none": statistics.median(none), "gold": statistics.median(gold), "distractor": statistics.median(dis)},
        "medianGap": statistics.median(gaps),
        "distractorAccuracy": sum(correct) / len(correct) if correct else 0,
        "perQuestion": {"ids": [bundle.question_ids[q] for q, *_ in plan], "none": none, "gold": gold, "distractor": dis},
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m medrank_torch.reading", description=__doc__.split("\n\n")[0])
    ap.add_argument("bundle")
    ap.add_argument("--distractors", required=True)
    ap.add_argument("--split", default="test", choices=list(SPLIT))
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    bundle = load_bundle(a.bundle)
    g = Generator.load(bundle.model_dir("generator"), pad_id=bundle.manifest["generator"]["padTokenId"])
    with open(a.distractors, encoding="utf-8") as f:
        distractors = json.load(f)
    res = reading(g, bundle, distractors, SPLIT[a.split])
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(res, f)
    print(json.dumps({k: v for k, v in res.items() if k != "perQuestion"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

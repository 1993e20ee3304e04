"""One joint training step of the retriever and the generator, top to bottom (src/training/step.ts):
refresh the index if due -> top-K candidates by MaxSim -> retriever forward with gradient -> sample
n documents -> their utility from the generator (no gradient) -> retriever loss and its gradient
on the CPU -> generator loss given the top-m documents -> zero grad, backward, all-reduce, update.

Distributed runs: every rank knows the whole global batch and lays every tensor out as the one
process would (padded lengths, dropout masks by global element index), but computes only its rows:
questions [a, b) of the batch. Scores, utilities and losses are gathered, so the CPU side (sampling,
losses, records) is the same on every rank; gradients are summed with torch.distributed.
B = questions per step, K = candidates, n = sampled documents, m = documents in the generator context.
"""

from __future__ import annotations

import math
import time

import torch
import torch.distributed as td

from . import losses as L
from .index import build_index, candidate_vectors, search
from .llama import padded_length
from .metrics import aggregate, kendall, question_metrics, spearman
from .optim import AdamW
from .prompts import PromptBuilder, nll_many
from .rng import ForwardContext, mulberry32, step_seed
from .sampler import sample_documents, sampling_probs, top_indices
from .train_config import phase_at

PHASES = ("refresh", "retrieve", "retrieverForward", "utility", "retrieverLoss", "generatorForward", "backward", "update")


class NonFiniteLossError(Exception):
    def __init__(self, step: int, which: str):
        super().__init__(
            f"step {step}: the {which} loss is not finite (NaN or infinite). The run stopped and kept its last good "
            "checkpoint; lower the learning rates or enable gradient clipping (maxGradNorm), then resume."
        )
        self.step = step


class Trainer:
    def __init__(self, retriever, generator, bundle, train: list, index, config: dict, dist):
        c = self.config = config
        self.r, self.g, self.bundle, self.train, self.index, self.dist = retriever, generator, bundle, train, index, dist
        self.prompts = PromptBuilder(bundle)
        self.device = next(generator.parameters()).device
        self.step_index = 0
        # Called between backward and the update, gradients in place (tests; the browser's beforeUpdate).
        self.before_update = None
        if len(train) < c["batchSize"]:
            raise ValueError(f"{len(train)} training questions cannot fill a batch of {c['batchSize']}")
        if c["batchSize"] < dist.world:
            raise ValueError(f"a batch of {c['batchSize']} questions cannot be shared by {dist.world} ranks: use at most {c['batchSize']} processes")
        need = c["candidates"] + (1 if c["retrieverLoss"] == "infonce" else 0)
        if len(bundle.passage_ids) < need:
            raise ValueError(f"{len(bundle.passage_ids)} passages cannot give {need} candidates per question: lower candidates")
        if c["topM"] * c["docMaxTokens"] + 48 > generator.config.max_positions:
            raise ValueError(f"topM x docMaxTokens = {c['topM'] * c['docMaxTokens']} tokens do not fit the generator's positions")
        trains_r = c["schedule"] != "frozen-retriever"
        trains_g = c["schedule"] != "retriever-only"
        if trains_r:
            lora = {**c["generatorLora"], "targetModules": ["query", "value"]} if c["retrieverTraining"] == "lora" else None
            pr = retriever.configure_training(c["retrieverTraining"], lora, c["seed"])
        else:
            pr = []
            for p in retriever.parameters():
                p.requires_grad_(False)
        if trains_g:
            pg = generator.configure_training(c["generatorLora"], c["generatorEmbeddings"], c["generatorNorms"], c["seed"])
        else:
            pg = []
            for p in generator.parameters():
                p.requires_grad_(False)
        opts = {"weight_decay": c["weightDecay"], "max_grad_norm": c["maxGradNorm"]}
        self.opt_r = AdamW(pr, c["lrRetriever"], **opts) if trains_r and pr else None
        self.opt_g = AdamW(pg, c["lrGenerator"], **opts) if trains_g else None

    # ---- data order ----------------------------------------------------------------------------

    def batch_at(self, t: int) -> list:
        B = self.config["batchSize"]
        per_epoch = len(self.train) // B
        epoch, at = t // per_epoch, (t % per_epoch) * B
        rand = mulberry32(step_seed(self.config["seed"], epoch, 7))
        order = list(range(len(self.train)))
        for i in range(len(order) - 1, 0, -1):
            j = math.floor(rand() * (i + 1))
            order[i], order[j] = order[j], order[i]
        return [self.train[i] for i in order[at : at + B]]

    def rebuild_index(self) -> None:
        self.index = build_index(self.r, self.bundle, self.dist)

    # ---- the step ------------------------------------------------------------------------------

    def step(self) -> dict:
        c, t, dist, bundle = self.config, self.step_index, self.dist, self.bundle
        trains = phase_at(c, t)
        ms = {p: 0.0 for p in PHASES}
        clock = [time.perf_counter()]

        def lap(p: str) -> None:
            if self.device.type == "cuda":
                torch.cuda.synchronize()
            now = time.perf_counter()
            ms[p] += (now - clock[0]) * 1000
            clock[0] = now

        rand = mulberry32(step_seed(c["seed"], t, 1))
        qs = self.batch_at(t)
        B, K = len(qs), c["candidates"]
        a, b = dist.share(B)

        # 0. Index freshness: document vectors that train make the index stale; rebuild on schedule.
        if trains["retriever"] and c["retrieverSide"] == "both" and c["refreshIndexEvery"] > 0 and t > 0 and t % c["refreshIndexEvery"] == 0:
            self.rebuild_index()
        lap("refresh")

        # 1. Top-K candidates per question by exact MaxSim over the (sharded) index.
        ids, found_scores = self.candidates(qs)
        lap("retrieve")

        # 2. Retriever forward with gradient: this rank's questions against their own K candidates.
        score_local = None
        scores = [list(s) for s in found_scores]
        if trains["retriever"]:
            score_local = self.score_candidates(qs, ids, a, b, ForwardContext(c["dropout"], step_seed(c["seed"], t, 2)))
            mine = score_local.detach().double().cpu().tolist()
            scores = [row for part in dist.gather(mine) for row in part]
        lap("retrieverForward")

        # 3. Which documents the generator judges: n drawn from softmax(s'/temperature), or the top n.
        samples = []
        for s in scores:
            if c["sampling"]:
                samples.append(sample_documents(s, c["sampled"], rand, c["samplingTemperature"]))
            else:
                samples.append((sampling_probs(s, c["samplingTemperature"]), top_indices(s, c["sampled"])))

        # 4. Utility: the generator's answer NLL given each judged document, without gradient.
        needs_utility = trains["retriever"] and c["retrieverLoss"] not in ("infonce", "none")
        utility = None
        if needs_utility:
            mine = [self.utility(qs[i], ids[i], samples[i][1]) for i in range(a, b)]
            utility = [u for part in dist.gather(mine) for u in part]
        lap("utility")

        # 5. Retriever loss and d loss / d scores per question, weighted and averaged over the batch.
        retriever_loss, grad_rows = None, []
        if trains["retriever"]:
            total = weight = 0.0
            for i in range(B):
                loss, grad, w = self.retriever_loss_of(scores[i], samples[i][1], utility[i] if utility else None, qs[i], ids[i])
                total += w * loss
                weight += w
                grad_rows.append([v * w for v in grad])
            norm = max(weight, 1)
            retriever_loss = total / norm
            grad_rows = [[v / norm for v in g] for g in grad_rows]
            if not math.isfinite(retriever_loss):
                raise NonFiniteLossError(t, "retriever")
        lap("retrieverLoss")

        # 6. Generator loss: answer NLL given the top-m documents (by retriever score), S2-Attn on.
        lm_local, generator_loss = None, None
        if trains["generator"]:
            ctx = ForwardContext(c["dropout"], step_seed(c["seed"], t, 3))
            attention = (c["s2attn"]["ratio"], c["s2attn"]["shift"]) if c["s2attn"] else None
            per_q = []
            for i, q in enumerate(qs):
                top = [ids[i][j] for j in top_indices(scores[i], c["topM"])]
                per_q.append([self.prompts.example(q, top)] if c["generatorContext"] == "concat" else [self.prompts.example(q, [d]) for d in top])
            examples = [x for ex in per_q for x in ex]
            T = padded_length([len(p) + len(ans) for p, ans in examples], attention)
            n_global = sum(len(ans) for _, ans in examples)
            first = sum(len(ex) for ex in per_q[:a])
            local = [x for ex in per_q[a:b] for x in ex]
            ctx.row_offset = first
            token_nll, _ = self.g.answer_tokens(local, ctx=ctx, attention=attention, T=T)
            lm_local = token_nll.sum() / n_global
            generator_loss = dist.sum(float(lm_local.detach()))
            if not math.isfinite(generator_loss):
                raise NonFiniteLossError(t, "generator")
        lap("generatorForward")

        # 7. Zero grad, backward through both models, sum gradients over ranks, update. The retriever's
        # CPU gradient enters the graph as sum(scores * G): its gradient with respect to the scores is G.
        for o in (self.opt_r, self.opt_g):
            if o:
                o.zero_grad()
        objective = lm_local
        if score_local is not None:
            G = torch.tensor(grad_rows[a:b], dtype=torch.float32, device=score_local.device)
            surrogate = (score_local * G).sum()
            objective = surrogate if objective is None else objective + surrogate
        if objective is not None:
            objective.backward()
        self.all_reduce_grads()
        lap("backward")
        if self.before_update:
            self.before_update(self)
        if trains["retriever"] and self.opt_r:
            self.opt_r.step()
        if trains["generator"] and self.opt_g:
            self.opt_g.step()
        for o in (self.opt_r, self.opt_g):
            if o:
                o.zero_grad()
        lap("update")

        # Outside the timed phases: the same candidates scored by the updated retriever, same dropout masks.
        after = None
        if trains["retriever"] and c["recordScoresAfter"]:
            with torch.no_grad():
                s2 = self.score_candidates(qs, ids, a, b, ForwardContext(c["dropout"], step_seed(c["seed"], t, 2)))
            after = [row for part in dist.gather(s2.double().cpu().tolist()) for row in part]

        record = self.make_record(t, trains, qs, ids, scores, after, samples, utility, retriever_loss, generator_loss, ms)
        self.step_index += 1
        return record

    def candidates(self, qs: list):
        """Top-K per question; InfoNCE's are the gold passage first, then the K-1 best others (hard negatives)."""
        c, K = self.config, self.config["candidates"]
        if c["retrieverLoss"] != "infonce":
            return search(self.index, self.r, self.bundle, qs, K, self.dist)
        extra = max(len(self.bundle.gold_docs[q][:1]) for q in qs)
        ids, scores = search(self.index, self.r, self.bundle, qs, K + extra, self.dist)
        out_i, out_s = [], []
        for q, ri, rs in zip(qs, ids, scores):
            gold = self.bundle.gold_docs[q][:1]
            if not gold:
                out_i.append(ri[:K])
                out_s.append(rs[:K])
                continue
            by = dict(zip(ri, rs))
            rest = [(d, s) for d, s in zip(ri, rs) if d != gold[0]][: K - 1]
            out_i.append([gold[0]] + [d for d, _ in rest])
            out_s.append([by.get(gold[0], 0.0)] + [s for _, s in rest])
        return out_i, out_s

    def score_candidates(self, qs, ids, a, b, ctx) -> torch.Tensor:
        """Scores [b - a, K] of this rank's questions against their own candidates (differentiable)."""
        bundle, K, dev = self.bundle, self.config["candidates"], self.device
        mine = qs[a:b]
        ctx.row_offset = a
        q = self.r.encode_queries(bundle.query_ids[mine].to(dev), bundle.query_mask[mine].to(dev), ctx)
        if self.config["retrieverSide"] == "both":
            T = max(len(bundle.colbert_docs[d]) for row in ids for d in row)
            ctx.row_offset = a * K
            docs = [(bundle.colbert_docs[d], bundle.colbert_keep[d]) for row in ids[a:b] for d in row]
            vectors, offsets = self.r.encode_docs(docs, ctx, T=T)
        else:
            flat = [d for row in ids[a:b] for d in row]
            got = candidate_vectors(self.index, [d for row in ids for d in row], self.dist)
            vectors = torch.cat([got[d] for d in flat])
            offs = [0]
            for d in flat:
                offs.append(offs[-1] + got[d].shape[0])
            offsets = torch.tensor(offs, dtype=torch.long, device=vectors.device)
        grid = self.r.score(q, vectors, offsets)  # [b - a, (b - a) * K]
        n = b - a
        return torch.stack([grid[i, i * K : (i + 1) * K] for i in range(n)]) if n else grid.new_zeros(0, K)

    def utility(self, q: int, cand: list, drawn: list) -> dict:
        c, P = self.config, self.prompts
        docs = [cand[i] for i in drawn]
        s, m, per = nll_many(self.g, [P.example(q, [d]) for d in docs])
        u = {"nllMean": m.tolist(), "nllSum": s.tolist(), "perToken": [p.tolist() for p in per]}
        if c["retrieverLoss"] == "jomed":
            o = self.bundle.options_of(q)
            if o is None:
                raise ValueError(f"JOMED's loss needs answer options; question {self.bundle.question_ids[q]} is open-ended")
            options, gold = o
            ex = [(P.prompt(q, [d]), opt) for d in docs for opt in options]
            r_sum, _, _ = nll_many(self.g, ex)
            u["labelLogits"] = [[-float(v) for v in r_sum[i * len(options) : (i + 1) * len(options)]] for i in range(len(docs))]
            u["gold"] = gold
        if c["retrieverLoss"] == "loop":
            ex = [P.example(q, [d for j, d in enumerate(docs) if j != i]) for i in range(len(docs))]
            u["nllWithout"] = nll_many(self.g, ex)[1].tolist()
        return u

    def retriever_loss_of(self, s, drawn, u, q, cand):
        c, K = self.config, len(s)
        loss_kind = c["retrieverLoss"]
        if loss_kind == "infonce":
            has_gold = bool(self.bundle.gold_docs[q]) and cand[0] == self.bundle.gold_docs[q][0]
            loss, grad = L.info_nce_loss(s, 1, K, [0], c["infoNceTau"])
            return loss, grad, 1.0 if has_gold else 0.0
        if u is None:
            raise ValueError("internal: the retriever loss needs utilities")
        sub = [s[i] for i in drawn]

        def scatter(r, w=1.0):
            grad = [0.0] * K
            for a_, i in enumerate(drawn):
                grad[i] = r[1][a_]
            return r[0], grad, w

        if loss_kind == "llm-rank":
            return (*L.llm_rank_loss(s, drawn, u["nllMean"], c["llmRankMargin"]), 1.0)
        if loss_kind == "listwise":
            return (*L.listwise_loss(s, drawn, u["nllMean"], c["tauS"], c["tauG"]), 1.0)
        if loss_kind == "jomed":
            g, weight = L.jomed_gold(u["labelLogits"], u["gold"])
            return scatter(L.jomed_loss(sub, g, c["tauS"], c["tauG"], c["jomedPrior"]), weight if c["jomedWeighting"] else 1.0)
        if loss_kind == "pdist":
            return scatter(L.pdist_loss(sub, u["nllMean"], c["tauS"]))
        if loss_kind == "loop":
            return scatter(L.loop_loss(sub, u["nllWithout"], c["tauS"]))
        if loss_kind == "emdr2":
            return scatter(L.emdr2_loss(sub, [[-v for v in p] for p in u["perToken"]]))
        if loss_kind == "replug":
            return scatter(L.replug_loss(sub, [-v for v in u["nllSum"]], c["tauS"], c["tauG"]))
        if loss_kind == "rag-marginal":
            return scatter(L.rag_marginal_loss(sub, [-v for v in u["nllSum"]]))
        raise ValueError(f"internal: {loss_kind} is not a joint-training loss")

    def all_reduce_grads(self) -> None:
        """Sum every trainable gradient over the ranks (each rank's loss is its share of the global loss)."""
        if not self.dist.enabled:
            return
        for o in (self.opt_r, self.opt_g):
            if not o:
                continue
            # Which parameters got a gradient on any rank: the others stay None (AdamW skips them,
            # as one process would), the rest are summed.
            has = torch.tensor([p.grad is not None for p in o.params], dtype=torch.int32, device=self.device)
            td.all_reduce(has)
            live = [p for p, h in zip(o.params, has.tolist()) if h]
            if not live:
                continue
            for p in live:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
            flat = torch.cat([p.grad.reshape(-1) for p in live])
            td.all_reduce(flat)
            at = 0
            for p in live:
                n = p.numel()
                p.grad.copy_(flat[at : at + n].view_as(p))
                at += n

    def make_record(self, t, trains, qs, ids, scores, after, samples, utility, retriever_loss, generator_loss, ms) -> dict:
        bundle = self.bundle
        questions = []
        for i, q in enumerate(qs):
            probs, drawn = samples[i]
            util = {j: utility[i]["nllMean"][k] for k, j in enumerate(drawn)} if utility else {}
            gold = {bundle.passage_ids[d] for d in bundle.gold_docs[q]}
            cands = []
            for j, d in enumerate(ids[i]):
                pid = bundle.passage_ids[d]
                cands.append({
                    "docId": pid, "score": scores[i][j], "scoreAfter": after[i][j] if after else None,
                    "prob": probs[j], "sampled": j in drawn, "utility": util.get(j), "gold": pid in gold,
                })
            judged = [x for x in cands if x["utility"] is not None]
            ok = len(judged) >= 2
            sc, ut = [x["score"] for x in judged], [-x["utility"] for x in judged]
            questions.append({"id": bundle.question_ids[q], "candidates": cands,
                              "spearman": spearman(sc, ut) if ok else None, "kendall": kendall(sc, ut) if ok else None})
        ks = [1, 5, self.config["candidates"]]
        per_q = [question_metrics([bundle.passage_ids[ids[i][j]] for j in top_indices(scores[i], len(scores[i]))],
                                  [bundle.passage_ids[d] for d in bundle.gold_docs[q]], ks) for i, q in enumerate(qs)]
        recall = aggregate(per_q, [bundle.gold_docs[q] for q in qs], ks)["recall"]

        def mean(xs):
            return sum(xs) / len(xs) if xs else None

        return {
            "step": t,
            "trains": trains,
            "loss": {"retriever": retriever_loss, "generator": generator_loss},
            "questions": questions,
            "alignment": {"spearman": mean([x["spearman"] for x in questions if x["spearman"] is not None]),
                          "kendall": mean([x["kendall"] for x in questions if x["kendall"] is not None])},
            "recall": recall,
            "ms": ms,
            "gpuBytes": torch.cuda.memory_allocated() if self.device.type == "cuda" else 0,
        }

// Retriever losses of JMLR and its peers, on the CPU: each acts on K <= 100 scores per question,
// which the step reads back anyway (sampling needs them), so a GPU dispatch would cost more than
// the math. Each returns the loss and its gradient with respect to the raw retriever scores; the
// step feeds that gradient into the GPU graph as the scores' upstream gradient (see step.ts).
// Formulas: ../shared/design/methods.md. Checked against PyTorch autograd in test/goldens/losses.json.
// K = candidates, n = sampled documents, L = label tokens, T = answer tokens, B x C = InfoNCE grid.

export interface LossGrad {
  loss: number;
  /** d loss / d scores, the same length as the scores (row-major for InfoNCE). */
  grad: Float64Array;
}

// ---- small vector helpers (float64) ------------------------------------------------------------

export function logSoftmax(x: ArrayLike<number>, tau = 1): Float64Array {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) m = Math.max(m, x[i]! / tau);
  let z = 0;
  for (let i = 0; i < x.length; i++) z += Math.exp(x[i]! / tau - m);
  const lz = m + Math.log(z);
  return Float64Array.from(x, (v) => v / tau - lz);
}

export const softmax = (x: ArrayLike<number>, tau = 1): Float64Array => logSoftmax(x, tau).map(Math.exp);

function logSumExp(x: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) m = Math.max(m, x[i]!);
  if (m === -Infinity) return -Infinity;
  let z = 0;
  for (let i = 0; i < x.length; i++) z += Math.exp(x[i]! - m);
  return m + Math.log(z);
}

/**
 * KL(T || softmax(s / tau)) = sum_i T_i (log T_i - log_softmax(s/tau)_i), with the target T fixed
 * (detached, as every distillation loss here has it). d/ds_i = (softmax(s/tau)_i - T_i) / tau.
 */
export function klToScores(s: ArrayLike<number>, target: Float64Array, tau: number): LossGrad {
  const logQ = logSoftmax(s, tau);
  let loss = 0;
  for (let i = 0; i < s.length; i++) if (target[i]! > 0) loss += target[i]! * (Math.log(target[i]!) - logQ[i]!);
  const grad = Float64Array.from(logQ, (lq, i) => (Math.exp(lq) - target[i]!) / tau);
  return { loss, grad };
}

// ---- JMLR -------------------------------------------------------------------------------------

/** JMLR code's min-max scaling to [-1, 1] and its Jacobian-vector product back to raw scores. */
export function minMaxScale(s: ArrayLike<number>): { scaled: Float64Array; backward: (g: Float64Array) => Float64Array } {
  let lo = 0,
    hi = 0;
  for (let i = 1; i < s.length; i++) {
    if (s[i]! < s[lo]!) lo = i;
    if (s[i]! > s[hi]!) hi = i;
  }
  const min = s[lo]!,
    range = s[hi]! - min;
  if (!(range > 0)) {
    // All candidates tie: every scaled score is 0 and nothing can be ranked.
    const zero = new Float64Array(s.length);
    return { scaled: zero, backward: () => new Float64Array(s.length) };
  }
  const scaled = Float64Array.from(s, (v) => (2 * (v - min)) / range - 1);
  const backward = (g: Float64Array): Float64Array => {
    // s'_k = 2 (s_k - min) / range - 1: d s'_k/d s_k = 2/range; through min: -2/range + 2 (s_k - min)/range^2;
    // through max: -2 (s_k - min) / range^2.
    const out = Float64Array.from(g, (gk) => (2 * gk) / range);
    let dMin = 0,
      dMax = 0;
    for (let k = 0; k < s.length; k++) {
      const u = (s[k]! - min) / range;
      dMin += g[k]! * ((-2 / range) * (1 - u));
      dMax += g[k]! * ((-2 / range) * u);
    }
    out[lo]! += dMin;
    out[hi]! += dMax;
    return out;
  };
  return { scaled, backward };
}

const softplus = (x: number): number => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));
const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

/** One pair of LLM-Rank: candidate indices a, b (a drawn before b), its logit, target and BCE. */
export interface RankPair {
  a: number;
  b: number;
  /** s'_a - s'_b, the min-max scaled scores' difference. */
  x: number;
  /** 1 when a's answer NLL is lower than b's (a should rank above b). */
  y: 0 | 1;
  /** BCE with logits, softplus(x) - y x (the loss divides the sum by 1 + #pairs). */
  bce: number;
}

/**
 * LLM-Rank's pairs a < b of the sampled documents (draw order), over the scaled scores s'. With a
 * margin > 0, a pair whose answer NLLs differ by less than the margin is left out (the generator
 * has no preference there, and its pair would train the retriever on noise); 0 keeps every pair.
 */
export function llmRankPairs(
  scaled: ArrayLike<number>,
  sampled: readonly number[],
  nll: ArrayLike<number>,
  margin = 0,
): RankPair[] {
  const out: RankPair[] = [];
  for (let a = 0; a < sampled.length; a++)
    for (let b = a + 1; b < sampled.length; b++) {
      if (margin > 0 && Math.abs(nll[b]! - nll[a]!) < margin) continue;
      const x = scaled[sampled[a]!]! - scaled[sampled[b]!]!;
      const y = nll[b]! > nll[a]! ? 1 : 0;
      out.push({ a: sampled[a]!, b: sampled[b]!, x, y, bce: softplus(x) - y * x });
    }
  return out;
}

/**
 * JMLR's LLM-Rank loss (pairwise, RankNet style, as in the public code): over pairs a < b of the
 * sampled documents (draw order), BCE(sigmoid(s'_a - s'_b), [nll_b > nll_a]), summed and divided by
 * 1 + #pairs, where s' is the min-max scaled score over all K candidates. `margin`: see llmRankPairs
 * (MedRank's addition; 0, the default, is the public code's loss).
 */
export function llmRankLoss(scores: ArrayLike<number>, sampled: readonly number[], nll: ArrayLike<number>, margin = 0): LossGrad {
  const { scaled, backward } = minMaxScale(scores);
  const pairs = llmRankPairs(scaled, sampled, nll, margin);
  const gScaled = new Float64Array(scores.length);
  let loss = 0;
  for (const { a, b, x, y, bce } of pairs) {
    loss += bce;
    const d = (sigmoid(x) - y) / (1 + pairs.length);
    gScaled[a]! += d;
    gScaled[b]! -= d;
  }
  return { loss: loss / (1 + pairs.length), grad: backward(gScaled) };
}

/** Listwise variant: KL(softmax(-nll / tauG) || softmax(s'_sampled / tauS)) over the sampled documents. */
export function listwiseLoss(
  scores: ArrayLike<number>,
  sampled: readonly number[],
  nll: ArrayLike<number>,
  tauS = 1,
  tauG = 1,
): LossGrad {
  const { scaled, backward } = minMaxScale(scores);
  const sub = sampled.map((i) => scaled[i]!);
  const target = softmax(
    Float64Array.from(nll, (v) => -v),
    tauG,
  );
  const r = klToScores(sub, target, tauS);
  const gScaled = new Float64Array(scores.length);
  sampled.forEach((i, a) => (gScaled[i]! += r.grad[a]!));
  return { loss: r.loss, grad: backward(gScaled) };
}

// ---- JOMED ------------------------------------------------------------------------------------

/**
 * JOMED's gold scores from label-subset logits [K][L]: g_i = log_softmax(logits_i)[gold], and the
 * question's weight: 0 when every document leads to the same predicted label (nothing to learn).
 */
export function jomedGold(labelLogits: ArrayLike<number>[], gold: number): { g: Float64Array; weight: number } {
  const argmax = (r: ArrayLike<number>): number => {
    let b = 0;
    for (let j = 1; j < r.length; j++) if (r[j]! > r[b]!) b = j;
    return b;
  };
  const g = Float64Array.from(labelLogits, (row) => logSoftmax(row)[gold]!);
  const first = argmax(labelLogits[0]!);
  const weight = labelLogits.every((r) => argmax(r) === first) ? 0 : 1;
  return { g, weight };
}

/** JOMED KL: KL(softmax(g' / tauG) || softmax(s / tauS)), g' = g or log_softmax(g) + log_softmax(s) (prior, detached). */
export function jomedLoss(scores: ArrayLike<number>, g: ArrayLike<number>, tauS = 1, tauG = 1, prior = false): LossGrad {
  let gp = Float64Array.from(g);
  if (prior) {
    const lg = logSoftmax(g),
      ls = logSoftmax(scores);
    gp = lg.map((v, i) => v + ls[i]!);
  }
  return klToScores(scores, softmax(gp, tauG), tauS);
}

// ---- Atlas, REPLUG, EMDR2, RAG -----------------------------------------------------------------

/** Atlas PDist: KL(softmax(-nllMean / tau) || softmax(s / tau)). */
export const pdistLoss = (scores: ArrayLike<number>, nllMean: ArrayLike<number>, tau = 0.1): LossGrad =>
  klToScores(
    scores,
    softmax(
      Float64Array.from(nllMean, (v) => -v),
      tau,
    ),
    tau,
  );

/** Atlas LOOP: KL(softmax(nllWithout / tau) || softmax(s / tau)); removing a useful document raises the NLL. */
export const loopLoss = (scores: ArrayLike<number>, nllWithout: ArrayLike<number>, tau = 0.1): LossGrad =>
  klToScores(scores, softmax(nllWithout, tau), tau);

/** REPLUG LSR: KL(softmax(loglik / tauG) || softmax(s / tauS)), loglik = -NLL sum of the answer. */
export const replugLoss = (scores: ArrayLike<number>, loglik: ArrayLike<number>, tauS = 1, tauG = 1): LossGrad =>
  klToScores(scores, softmax(loglik, tauG), tauS);

/**
 * EMDR2: -sum_t log sum_i softmax(s)_i p(y_t | d_i), generator side detached.
 * d/ds_k = -sum_t (r_tk - pi_k), r_t = the posterior over documents at token t.
 */
export function emdr2Loss(scores: ArrayLike<number>, tokenLogProbs: ArrayLike<number>[]): LossGrad {
  const logPi = logSoftmax(scores);
  const K = scores.length,
    T = tokenLogProbs[0]!.length;
  const grad = new Float64Array(K);
  let loss = 0;
  for (let t = 0; t < T; t++) {
    const joint = Float64Array.from(logPi, (lp, i) => lp + tokenLogProbs[i]![t]!);
    const lz = logSumExp(joint);
    loss -= lz;
    for (let k = 0; k < K; k++) grad[k]! -= Math.exp(joint[k]! - lz) - Math.exp(logPi[k]!);
  }
  return { loss, grad };
}

/** RAG-sequence marginal: -log sum_i exp(log_softmax(s)_i + loglik_i). */
export const ragMarginalLoss = (scores: ArrayLike<number>, loglik: ArrayLike<number>): LossGrad =>
  emdr2Loss(
    scores,
    Array.from(loglik, (v) => [v]),
  );

// ---- BMRetriever / ColBERT contrastive ---------------------------------------------------------

/** InfoNCE over a [B, C] grid (row b's positive at positive[b]): mean_b -log softmax(s_b / tau)[pos_b]. */
export function infoNceLoss(scores: ArrayLike<number>, B: number, C: number, positive: readonly number[], tau = 1): LossGrad {
  const grad = new Float64Array(B * C);
  let loss = 0;
  for (let b = 0; b < B; b++) {
    const row = Array.prototype.slice.call(scores, b * C, (b + 1) * C) as number[];
    const ls = logSoftmax(row, tau);
    loss -= ls[positive[b]!]!;
    for (let c = 0; c < C; c++) grad[b * C + c] = (Math.exp(ls[c]!) - (c === positive[b] ? 1 : 0)) / (tau * B);
  }
  return { loss: loss / B, grad };
}

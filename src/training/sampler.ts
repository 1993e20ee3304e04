// JMLR's document sampler: weighted random sampling without replacement of n documents from
// softmax(s' / temperature), s' the min-max scaled retriever scores (methods.md). Draws are
// sequential (each draw renormalises over the documents left), as torch.multinomial does without
// replacement; the generator is a seeded Mulberry32, so a seed fixes every draw.
// K = candidates, n = documents drawn.

import { minMaxScale, softmax } from './losses';

export interface Sample {
  /** Sampling probability of each candidate (first draw), [K]. */
  probs: Float64Array;
  /** Indices into the candidates, in draw order, [n]. */
  drawn: number[];
}

/** Sampling probabilities: softmax of the min-max scaled scores over the temperature. */
export function samplingProbs(scores: ArrayLike<number>, temperature = 1): Float64Array {
  if (!(temperature > 0)) throw new RangeError(`sampling temperature must be positive, got ${temperature}`);
  return softmax(minMaxScale(scores).scaled, temperature);
}

/** n distinct indices drawn from `probs` without replacement (n <= K). */
export function drawWithoutReplacement(probs: ArrayLike<number>, n: number, rand: () => number): number[] {
  const K = probs.length;
  if (!Number.isInteger(n) || n < 1 || n > K) throw new RangeError(`cannot draw ${n} of ${K} candidates`);
  const w = Float64Array.from(probs);
  const out: number[] = [];
  for (let d = 0; d < n; d++) {
    let total = 0;
    for (let i = 0; i < K; i++) total += w[i]!;
    let u = rand() * total,
      pick = -1;
    for (let i = 0; i < K; i++) {
      if (w[i]! <= 0) continue;
      pick = i;
      u -= w[i]!;
      if (u < 0) break;
    }
    // Every remaining weight underflowed to 0 (a tiny temperature): take the first left.
    if (pick < 0) pick = out.length < K ? [...Array(K).keys()].find((i) => !out.includes(i))! : 0;
    out.push(pick);
    w[pick] = 0;
  }
  return out;
}

export function sampleDocuments(scores: ArrayLike<number>, n: number, rand: () => number, temperature = 1): Sample {
  const probs = samplingProbs(scores, temperature);
  return { probs, drawn: drawWithoutReplacement(probs, Math.min(n, probs.length), rand) };
}

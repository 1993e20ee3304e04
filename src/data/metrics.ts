// Retrieval metrics against gold passages, per question and averaged, as the field reports them
// (BEIR / TREC conventions with binary relevance): recall@k, MRR@10 and nDCG@10, and bootstrap
// intervals of their means.
// ranked = document ids best first; gold = the question's relevant ids.

export interface QuestionMetrics {
  /** recall@k for each requested k: |gold in top k| / |gold| (0 when there is no gold). */
  recall: Record<number, number>;
  /** 1 / rank of the first gold document within the top 10, else 0. */
  mrr10: number;
  /** DCG@10 / IDCG@10 with gain 1 per gold document and discount 1 / log2(rank + 1). */
  ndcg10: number;
  /** 1-based rank of the first gold document anywhere in the ranking, or null. */
  firstGoldRank: number | null;
}

export interface RetrievalMetrics {
  /** Questions with at least one gold passage (the others are not scored). */
  questions: number;
  recall: Record<number, number>;
  mrr10: number;
  ndcg10: number;
}

export const DEFAULT_KS = [1, 5, 10, 20, 100];

export function questionMetrics(
  ranked: readonly string[],
  gold: readonly string[],
  ks: readonly number[] = DEFAULT_KS,
): QuestionMetrics {
  const relevant = new Set(gold);
  const recall: Record<number, number> = {};
  for (const k of ks) {
    let hits = 0;
    for (const id of ranked.slice(0, k)) if (relevant.has(id)) hits++;
    recall[k] = relevant.size ? hits / relevant.size : 0;
  }
  const first = ranked.findIndex((id) => relevant.has(id));
  const firstGoldRank = first < 0 ? null : first + 1;
  const mrr10 = firstGoldRank !== null && firstGoldRank <= 10 ? 1 / firstGoldRank : 0;
  let dcg = 0;
  ranked.slice(0, 10).forEach((id, i) => {
    if (relevant.has(id)) dcg += 1 / Math.log2(i + 2);
  });
  let idcg = 0;
  for (let i = 0; i < Math.min(10, relevant.size); i++) idcg += 1 / Math.log2(i + 2);
  return { recall, mrr10, ndcg10: idcg ? dcg / idcg : 0, firstGoldRank };
}

/** Mean of each metric over the questions that have gold passages. */
export function aggregate(
  perQuestion: readonly QuestionMetrics[],
  gold: readonly (readonly string[])[],
  ks: readonly number[] = DEFAULT_KS,
): RetrievalMetrics {
  const scored = perQuestion.filter((_, i) => (gold[i]?.length ?? 0) > 0);
  const n = scored.length;
  const mean = (f: (m: QuestionMetrics) => number): number => (n ? scored.reduce((a, m) => a + f(m), 0) / n : 0);
  const recall: Record<number, number> = {};
  for (const k of ks) recall[k] = mean((m) => m.recall[k] ?? 0);
  return { questions: n, recall, mrr10: mean((m) => m.mrr10), ndcg10: mean((m) => m.ndcg10) };
}

/** 95 % intervals of the aggregated metrics (MetricIntervals), from resampling the scored questions. */
export interface MetricIntervals {
  recall: Record<number, [number, number]>;
  mrr10: [number, number];
}

/**
 * Percentile bootstrap (2.5 %, 97.5 %) of each mean over questions: `draws` resamples of the scored
 * questions with replacement, seeded (xorshift32), so a report reproduces.
 */
export function bootstrapIntervals(
  perQuestion: readonly QuestionMetrics[],
  ks: readonly number[] = DEFAULT_KS,
  draws = 2000,
  seed = 1,
): MetricIntervals {
  const n = perQuestion.length;
  let x = seed >>> 0 || 1;
  const next = (): number => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
  const cols = [...ks.map((k) => (m: QuestionMetrics) => m.recall[k] ?? 0), (m: QuestionMetrics) => m.mrr10];
  const samples = cols.map(() => new Float64Array(draws));
  for (let d = 0; d < draws; d++) {
    const sums = new Float64Array(cols.length);
    for (let i = 0; i < n; i++) {
      const m = perQuestion[Math.floor(next() * n)]!;
      cols.forEach((f, c) => (sums[c]! += f(m)));
    }
    sums.forEach((v, c) => (samples[c]![d] = n ? v / n : 0));
  }
  const interval = (a: Float64Array): [number, number] => {
    const sorted = Float64Array.from(a).sort();
    return [sorted[Math.floor(0.025 * (draws - 1))]!, sorted[Math.ceil(0.975 * (draws - 1))]!];
  };
  const recall: Record<number, [number, number]> = {};
  ks.forEach((k, i) => (recall[k] = interval(samples[i]!)));
  return { recall, mrr10: interval(samples[ks.length]!) };
}

// ---- alignment: rank correlation between retriever scores and generator utility -------------

/** Average ranks (1-based; ties share the mean of their positions). */
function ranks(x: ArrayLike<number>): Float64Array {
  const idx = Array.from(x, (_, i) => i).sort((a, b) => x[a]! - x[b]!);
  const r = new Float64Array(x.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && x[idx[j + 1]!] === x[idx[i]!]) j++;
    for (let k = i; k <= j; k++) r[idx[k]!] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

/** Spearman's rho: Pearson correlation of the average ranks (0 when either side is constant). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`spearman: ${a.length} vs ${b.length} values`);
  const ra = ranks(a),
    rb = ranks(b);
  const n = a.length;
  const ma = ra.reduce((s, v) => s + v, 0) / n,
    mb = rb.reduce((s, v) => s + v, 0) / n;
  let sab = 0,
    saa = 0,
    sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (ra[i]! - ma) * (rb[i]! - mb);
    saa += (ra[i]! - ma) ** 2;
    sbb += (rb[i]! - mb) ** 2;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
}

/** Kendall's tau-b (ties on either side handled as scipy.stats.kendalltau does; 0 when undefined). */
export function kendall(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`kendall: ${a.length} vs ${b.length} values`);
  let concordant = 0,
    discordant = 0,
    tiesA = 0,
    tiesB = 0;
  for (let i = 0; i < a.length; i++)
    for (let j = i + 1; j < a.length; j++) {
      const da = Math.sign(a[i]! - a[j]!),
        db = Math.sign(b[i]! - b[j]!);
      if (da === 0 && db === 0) continue;
      if (da === 0) tiesA++;
      else if (db === 0) tiesB++;
      else if (da === db) concordant++;
      else discordant++;
    }
  const denom = Math.sqrt((concordant + discordant + tiesA) * (concordant + discordant + tiesB));
  return denom > 0 ? (concordant - discordant) / denom : 0;
}

// Why a document scored what it did: ColBERT's MaxSim opened up. For each query vector (every
// position of the [MASK]-augmented query), the document token whose vector has the largest dot
// product with it, and that product; the score is their sum, the number search ranks by.
// Document vectors come from the index when it holds the document (exactly what search scored),
// else from encoding the text. Lq = query length (queryMaxLen), L = kept document tokens, dim = ColBERT dim.

import { MedRankError } from '../core/errors';
import type { ColbertRetriever } from '../models/colbert';
import type { Tensor } from '../tensor';
import type { ColbertIndex } from './index';
import { indexedDocs } from './index';

export interface MaxSimExplanation {
  /** The query's tokens as scored: [CLS], the query marker, the text, [SEP], then [MASK] padding. */
  queryTokens: string[];
  /** The document tokens whose vectors are scored, in order (padding and dropped punctuation left out). */
  docTokens: string[];
  /** Per query token, the index into docTokens of its best-matching document token. */
  match: number[];
  /** Per query token, that dot product (cosine: ColBERT vectors are unit length). */
  sim: number[];
  /** sum(sim): the MaxSim score of the (query, document) pair. */
  score: number;
  /** Where the document's vectors came from: the index's rows (what search scores), or encoding the text now. */
  vectors: 'index' | 'encoded';
}

const tokenText = (r: ColbertRetriever, id: number): string => r.tokenizer.idToToken(id) ?? `[${id}]`;

/**
 * MaxSim of `query` against one document, token by token. `text` is the document as ColBERT
 * encodes it (docText of a passage); with `from`, its vectors are the index's rows of `docId`.
 */
export async function explainMaxSim(
  r: ColbertRetriever,
  query: string,
  text: string,
  from?: { index: ColbertIndex; docId: string },
): Promise<MaxSimExplanation> {
  const e = r.projection.engine;
  const q = r.tokenizeQueries([query]);
  const d = r.tokenizeDocs([text]);
  const docIds: number[] = [];
  for (let t = 0; t < d.T; t++) if (d.mask[t] && d.keep[t]) docIds.push(d.ids[t]!);

  const [qv, dv] = e.scope(() =>
    e.noGrad((): [Tensor, Tensor] => {
      const qt = r.encodeQueries([query]);
      return [qt, (from ? indexedDocs(from.index, [from.docId]) : r.encodeDocs([text])).vectors];
    }),
  );
  let Q: Float32Array, D: Float32Array;
  try {
    [Q, D] = await Promise.all([qv.read(), dv.read()]);
  } finally {
    qv.dispose();
    dv.dispose();
  }
  const dim = r.dim,
    Lq = q.T,
    L = D.length / dim;
  if (L !== docIds.length)
    throw new MedRankError(
      `the index holds ${L} vectors for this document but the retriever keeps ${docIds.length} of its tokens: build the index again`,
    );

  const match: number[] = [],
    sim: number[] = [];
  for (let a = 0; a < Lq; a++) {
    let best = -1,
      bestSim = -Infinity;
    for (let j = 0; j < L; j++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += Q[a * dim + k]! * D[j * dim + k]!;
      if (s > bestSim) {
        bestSim = s;
        best = j;
      }
    }
    match.push(best);
    sim.push(L ? bestSim : 0);
  }
  return {
    queryTokens: Array.from(q.ids, (id) => tokenText(r, id)),
    docTokens: docIds.map((id) => tokenText(r, id)),
    match,
    sim,
    score: sim.reduce((x, y) => x + y, 0),
    vectors: from ? 'index' : 'encoded',
  };
}

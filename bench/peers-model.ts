// The peers bench's shared problem: one small Llama-style model (HF names and layouts), its
// initial weights, the token batch and the AdamW settings, made once in JS from a seeded RNG and
// handed as the same Float32Arrays to MedRank, jax-js and TensorFlow.js (bench/peers*.ts).
// B = batch, T = tokens, D = hidden size, H = heads (= kv heads), Dh = head dim, F = intermediate
// size, V = vocab, L = layers.

import { ropeTables } from '../src/tensor/ops/rope';
import { mulberry32 } from '../src/tensor/random';

export interface PeerShape {
  B: number;
  T: number;
  D: number;
  H: number;
  Dh: number;
  F: number;
  V: number;
  L: number;
  eps: number;
  theta: number;
}

export interface AdamWSettings {
  lr: number;
  b1: number;
  b2: number;
  eps: number;
  wd: number;
}

export interface PeerProblem {
  shape: PeerShape;
  adam: AdamWSettings;
  /** HF checkpoint layout: linear weights [out, in], embedding [V, D] (tied: also the LM head). */
  weights: Map<string, { shape: number[]; data: Float32Array }>;
  /** Inputs [B, T] and next-token targets [B, T] (the same random sequence shifted by one). */
  ids: Int32Array;
  targets: Int32Array;
  /** RoPE tables [T, Dh/2], the same ones MedRank builds (ropeTables, theta 10000). */
  cos: Float32Array;
  sin: Float32Array;
}

/** One training step: forward, backward, AdamW; resolves to that step's loss (read back to JS). */
export interface TrainImpl {
  step(): Promise<number>;
  dispose(): void;
}

export const layerNames = (i: number): Record<'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down' | 'inNorm' | 'postNorm', string> => {
  const l = `model.layers.${i}.`;
  return {
    q: `${l}self_attn.q_proj.weight`,
    k: `${l}self_attn.k_proj.weight`,
    v: `${l}self_attn.v_proj.weight`,
    o: `${l}self_attn.o_proj.weight`,
    gate: `${l}mlp.gate_proj.weight`,
    up: `${l}mlp.up_proj.weight`,
    down: `${l}mlp.down_proj.weight`,
    inNorm: `${l}input_layernorm.weight`,
    postNorm: `${l}post_attention_layernorm.weight`,
  };
};
export const EMBED = 'model.embed_tokens.weight';
export const FINAL_NORM = 'model.norm.weight';

/** [rows, cols] row-major -> [cols, rows]. */
export function transposed(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}

/** The weights (matrices uniform in ±0.05, norm scales 1) and tokens, all from mulberry32 seeds. */
export function makeProblem(shape: PeerShape, adam: AdamWSettings, seed = 17): PeerProblem {
  const { B, T, D, H, Dh, F, V, L } = shape;
  const weights: PeerProblem['weights'] = new Map();
  let k = 0;
  const matrix = (name: string, s: number[]): void => {
    const rng = mulberry32(seed * 1000 + ++k);
    const n = s.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = 0.05 * (2 * rng() - 1);
    weights.set(name, { shape: s, data });
  };
  const ones = (name: string): void => void weights.set(name, { shape: [D], data: new Float32Array(D).fill(1) });
  matrix(EMBED, [V, D]);
  for (let i = 0; i < L; i++) {
    const n = layerNames(i);
    matrix(n.q, [H * Dh, D]);
    matrix(n.k, [H * Dh, D]);
    matrix(n.v, [H * Dh, D]);
    matrix(n.o, [D, H * Dh]);
    matrix(n.gate, [F, D]);
    matrix(n.up, [F, D]);
    matrix(n.down, [D, F]);
    ones(n.inNorm);
    ones(n.postNorm);
  }
  ones(FINAL_NORM);
  const rng = mulberry32(seed + 1);
  const ids = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const seq = Array.from({ length: T + 1 }, () => Math.floor(rng() * V));
    for (let t = 0; t < T; t++) {
      ids[b * T + t] = seq[t]!;
      targets[b * T + t] = seq[t + 1]!;
    }
  }
  const { cos, sin } = ropeTables(T, Dh, shape.theta);
  return { shape, adam, weights, ids, targets, cos, sin };
}

/** Additive causal mask [T, T]: 0 where key <= query, -1e9 above the diagonal. */
export function causalMask(T: number): Float32Array {
  const m = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = -1e9;
  return m;
}

// jax-js (@jax-js/jax) side of the peers bench: square matmul and the Llama training step, written
// in jax-js's NumPy/JAX API on its webgpu device. The whole step (loss, valueAndGrad, AdamW) is
// one jit-compiled function. jax-js moves arrays into the functions they are passed to (reference
// counting): every use of an array but its last takes `.ref`.
// B = batch, T = tokens, D = hidden size, H = heads, Dh = head dim, V = vocab.

import {
  blockUntilReady,
  defaultDevice,
  init,
  jit,
  nn,
  numpy as np,
  tree,
  valueAndGrad,
  type Array as JArray,
} from '@jax-js/jax';
import type { Impl } from './common';
import { causalMask, EMBED, FINAL_NORM, layerNames, transposed, type PeerProblem, type TrainImpl } from './peers-model';

export async function initJax(): Promise<void> {
  const devices = await init('webgpu');
  if (!devices.includes('webgpu')) throw new Error('jax-js: no webgpu device');
  defaultDevice('webgpu');
}

export function jaxMatmul(A: Float32Array, B: Float32Array, n: number): Impl {
  const a = np.array(A, { shape: [n, n] });
  const b = np.array(B, { shape: [n, n] });
  const mm = jit((x: JArray, y: JArray) => np.matmul(x, y));
  let last: JArray | null = null;
  return {
    async run() {
      last?.dispose();
      last = mm(a.ref, b.ref);
      await last.blockUntilReady();
    },
    result: async () => (await last!.ref.data()) as Float32Array,
    dispose() {
      last?.dispose();
      a.dispose();
      b.dispose();
      mm.dispose();
    },
  };
}

type Layer = {
  q: JArray;
  k: JArray;
  v: JArray;
  o: JArray;
  gate: JArray;
  up: JArray;
  down: JArray;
  inNorm: JArray;
  postNorm: JArray;
};
type Params = { embed: JArray; layers: Layer[]; norm: JArray };
type Consts = { ids: JArray; onehot: JArray; cos: JArray; sin: JArray; mask: JArray };

export function jaxTrain(p: PeerProblem): TrainImpl {
  const { B, T, H, Dh, V, L, eps } = p.shape;
  const { lr, b1, b2, eps: aeps, wd } = p.adam;
  const half = Dh / 2;
  const w = (name: string): { shape: number[]; data: Float32Array } => p.weights.get(name)!;
  // Linear weights go in as [in, out] (transposed once here), so x @ W needs no transpose.
  const lin = (name: string): JArray => {
    const { shape, data } = w(name);
    return np.array(transposed(data, shape[0]!, shape[1]!), { shape: [shape[1]!, shape[0]!] });
  };
  const vec = (name: string): JArray => np.array(w(name).data, { shape: w(name).shape });
  let params: Params = {
    embed: vec(EMBED),
    layers: Array.from({ length: L }, (_, i) => {
      const n = layerNames(i);
      return {
        q: lin(n.q),
        k: lin(n.k),
        v: lin(n.v),
        o: lin(n.o),
        gate: lin(n.gate),
        up: lin(n.up),
        down: lin(n.down),
        inNorm: vec(n.inNorm),
        postNorm: vec(n.postNorm),
      };
    }),
    norm: vec(FINAL_NORM),
  };
  const zerosLike = (t: Params): Params => tree.map((x: JArray) => np.zeros(x.shape), tree.ref(t)) as Params;
  let m = zerosLike(params);
  let v = zerosLike(params);
  const consts: Consts = {
    ids: np.array(p.ids, { shape: [B * T], dtype: np.int32 }),
    onehot: nn.oneHot(np.array(p.targets, { shape: [B * T], dtype: np.int32 }), V),
    cos: np.array(p.cos.subarray(0, T * half), { shape: [T, 1, half] }),
    sin: np.array(p.sin.subarray(0, T * half), { shape: [T, 1, half] }),
    mask: np.array(causalMask(T), { shape: [T, T] }),
  };

  const rmsnorm = (x: JArray, g: JArray): JArray => {
    const ms = np.square(x.ref).mean(-1, { keepdims: true });
    return x.div(np.sqrt(ms.add(eps))).mul(g);
  };
  // HF rotate_half: dim i pairs with i + Dh/2. x: [B, T, H, Dh]; cos, sin: [T, 1, Dh/2].
  const rope = (x: JArray, cos: JArray, sin: JArray): JArray => {
    const x1 = x.ref.slice([], [], [], [0, half]);
    const x2 = x.slice([], [], [], [half]);
    return np.concatenate([x1.ref.mul(cos.ref).sub(x2.ref.mul(sin.ref)), x2.mul(cos).add(x1.mul(sin))], -1);
  };
  const loss = (q: Params, c: Consts): JArray => {
    const { cos, sin, mask } = c;
    let x = np.take(q.embed.ref, c.ids, 0); // [B*T, D]
    for (const l of q.layers) {
      const h = rmsnorm(x.ref, l.inNorm);
      const heads = (y: JArray): JArray => y.reshape([B, T, H, Dh]);
      const qh = rope(heads(np.matmul(h.ref, l.q)), cos.ref, sin.ref).transpose([0, 2, 1, 3]);
      const kh = rope(heads(np.matmul(h.ref, l.k)), cos.ref, sin.ref).transpose([0, 2, 3, 1]);
      const vh = heads(np.matmul(h, l.v)).transpose([0, 2, 1, 3]);
      const scores = np
        .matmul(qh, kh)
        .mul(1 / Math.sqrt(Dh))
        .add(mask.ref); // [B, H, T, T]
      const a = np
        .matmul(nn.softmax(scores, -1), vh)
        .transpose([0, 2, 1, 3])
        .reshape([B * T, H * Dh]);
      x = x.add(np.matmul(a, l.o));
      const mm = rmsnorm(x.ref, l.postNorm);
      const g = nn.silu(np.matmul(mm.ref, l.gate)).mul(np.matmul(mm, l.up));
      x = x.add(np.matmul(g, l.down));
    }
    cos.dispose();
    sin.dispose();
    mask.dispose();
    const hidden = rmsnorm(x, q.norm);
    const logits = np.matmul(hidden, q.embed.transpose()); // tied LM head: [B*T, V]
    return nn
      .logSoftmax(logits, -1)
      .mul(c.onehot)
      .sum()
      .mul(-1 / (B * T));
  };

  const step = jit((q: Params, mq: Params, vq: Params, c: Consts, bc: JArray[]) => {
    const [value, grads] = valueAndGrad(loss)(tree.ref(q), c);
    const [bc1, bc2] = bc as [JArray, JArray];
    const gl = tree.leaves(grads);
    const ml = tree.leaves(mq);
    const vl = tree.leaves(vq);
    const pl = tree.leaves(q);
    const np2: JArray[] = [],
      nm: JArray[] = [],
      nv: JArray[] = [];
    pl.forEach((pk, i) => {
      const g = gl[i]!;
      const mk = ml[i]!.mul(b1).add(g.ref.mul(1 - b1));
      const vk = vl[i]!.mul(b2).add(np.square(g).mul(1 - b2));
      const upd = mk.ref
        .div(bc1.ref)
        .div(np.sqrt(vk.ref.div(bc2.ref)).add(aeps))
        .mul(lr);
      np2.push(pk.mul(1 - lr * wd).sub(upd));
      nm.push(mk);
      nv.push(vk);
    });
    bc1.dispose();
    bc2.dispose();
    const def = tree.structure(q);
    return [value, tree.unflatten(def, np2), tree.unflatten(def, nm), tree.unflatten(def, nv)] as [
      JArray,
      Params,
      Params,
      Params,
    ];
  });

  let t = 0;
  return {
    async step() {
      t++;
      const bc = [np.array([1 - b1 ** t]).reshape([]), np.array([1 - b2 ** t]).reshape([])];
      const [value, q2, m2, v2] = step(params, m, v, tree.ref(consts), bc);
      params = q2;
      m = m2;
      v = v2;
      await blockUntilReady([params, m, v]); // the updates, not only the loss
      return (await value.data())[0]!;
    },
    dispose() {
      tree.dispose(params);
      tree.dispose(m);
      tree.dispose(v);
      tree.dispose(consts);
      step.dispose();
    },
  };
}

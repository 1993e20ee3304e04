// TensorFlow.js (@tensorflow/tfjs + @tensorflow/tfjs-backend-webgpu) side of the peers bench:
// square matmul and the Llama training step on tfjs's webgpu backend. Eager ops; gradients by
// tf.variableGrads; AdamW written with tf ops (tfjs has Adam but no decoupled weight decay).
// B = batch, T = tokens, D = hidden size, H = heads, Dh = head dim, V = vocab.

import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import type { Impl } from './common';
import { causalMask, EMBED, FINAL_NORM, layerNames, transposed, type PeerProblem, type TrainImpl } from './peers-model';

export async function initTfjs(): Promise<void> {
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs: the webgpu backend did not initialize');
  await tf.ready();
}

export function tfjsMatmul(A: Float32Array, B: Float32Array, n: number): Impl {
  const a = tf.tensor2d(A, [n, n]);
  const b = tf.tensor2d(B, [n, n]);
  let last: tf.Tensor | null = null;
  return {
    async run() {
      last?.dispose();
      last = tf.matMul(a, b);
      // Waits for the matmul: read one element of C (a 1-element slice), not all n² of it.
      const corner = tf.slice(last, [0, 0], [1, 1]);
      await corner.data();
      corner.dispose();
    },
    result: async () => (await last!.data()) as Float32Array,
    dispose() {
      last?.dispose();
      a.dispose();
      b.dispose();
    },
  };
}

export function tfjsTrain(p: PeerProblem): TrainImpl {
  const { B, T, H, Dh, V, L, eps } = p.shape;
  const { lr, b1, b2, eps: aeps, wd } = p.adam;
  const half = Dh / 2;
  const w = (name: string): { shape: number[]; data: Float32Array } => p.weights.get(name)!;
  // Linear weights as [in, out] (transposed once here), so x @ W needs no transpose.
  const lin = (name: string): tf.Variable => {
    const { shape, data } = w(name);
    return tf.variable(tf.tensor2d(transposed(data, shape[0]!, shape[1]!), [shape[1]!, shape[0]!]), true, name);
  };
  const vec = (name: string): tf.Variable => tf.variable(tf.tensor(w(name).data, w(name).shape), true, name);
  const embed = vec(EMBED);
  const layers = Array.from({ length: L }, (_, i) => {
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
  });
  const norm = vec(FINAL_NORM);
  const vars: tf.Variable[] = [embed, ...layers.flatMap((l) => Object.values(l)), norm];
  const m = vars.map((x) => tf.variable(tf.zerosLike(x), false));
  const v = vars.map((x) => tf.variable(tf.zerosLike(x), false));
  const ids = tf.tensor1d(p.ids, 'int32');
  const onehot = tf.oneHot(tf.tensor1d(p.targets, 'int32'), V);
  const cos = tf.tensor3d(p.cos.subarray(0, T * half), [T, 1, half]);
  const sin = tf.tensor3d(p.sin.subarray(0, T * half), [T, 1, half]);
  const mask = tf.tensor2d(causalMask(T), [T, T]);

  const rmsnorm = (x: tf.Tensor, g: tf.Tensor): tf.Tensor => x.mul(tf.rsqrt(tf.mean(tf.square(x), -1, true).add(eps))).mul(g);
  // HF rotate_half: dim i pairs with i + Dh/2. x: [B, T, H, Dh].
  const rope = (x: tf.Tensor): tf.Tensor => {
    const [x1, x2] = tf.split(x, 2, -1) as [tf.Tensor, tf.Tensor];
    return tf.concat([x1.mul(cos).sub(x2.mul(sin)), x2.mul(cos).add(x1.mul(sin))], -1);
  };
  const loss = (): tf.Scalar => {
    let x: tf.Tensor = tf.gather(embed, ids); // [B*T, D]
    for (const l of layers) {
      const h = rmsnorm(x, l.inNorm);
      const heads = (y: tf.Tensor): tf.Tensor => y.reshape([B, T, H, Dh]);
      const q = rope(heads(tf.matMul(h as tf.Tensor2D, l.q))).transpose([0, 2, 1, 3]);
      const k = rope(heads(tf.matMul(h as tf.Tensor2D, l.k))).transpose([0, 2, 1, 3]);
      const vh = heads(tf.matMul(h as tf.Tensor2D, l.v)).transpose([0, 2, 1, 3]);
      const scores = tf
        .matMul(q, k, false, true)
        .mul(1 / Math.sqrt(Dh))
        .add(mask); // [B, H, T, T]
      const a = tf
        .matMul(tf.softmax(scores), vh)
        .transpose([0, 2, 1, 3])
        .reshape([B * T, H * Dh]);
      x = x.add(tf.matMul(a as tf.Tensor2D, l.o));
      const mm = rmsnorm(x, l.postNorm) as tf.Tensor2D;
      const g = tf.matMul(mm, l.gate);
      x = x.add(tf.matMul(g.mul(tf.sigmoid(g)).mul(tf.matMul(mm, l.up)) as tf.Tensor2D, l.down));
    }
    const logits = tf.matMul(rmsnorm(x, norm) as tf.Tensor2D, embed, false, true); // tied LM head: [B*T, V]
    return tf.losses.softmaxCrossEntropy(onehot, logits, undefined, 0, tf.Reduction.MEAN) as tf.Scalar;
  };

  let t = 0;
  return {
    async step() {
      t++;
      const { value, grads } = tf.variableGrads(loss, vars);
      const bc1 = 1 - b1 ** t,
        bc2 = 1 - b2 ** t;
      tf.tidy(() => {
        vars.forEach((pk, i) => {
          const g = grads[pk.name]!;
          const mk = m[i]!.mul(b1).add(g.mul(1 - b1));
          const vk = v[i]!.mul(b2).add(tf.square(g).mul(1 - b2));
          m[i]!.assign(mk);
          v[i]!.assign(vk);
          pk.assign(
            pk.mul(1 - lr * wd).sub(
              mk
                .div(bc1)
                .div(tf.sqrt(vk.div(bc2)).add(aeps))
                .mul(lr),
            ),
          );
        });
      });
      tf.dispose(grads);
      const out = (await value.data())[0]!;
      value.dispose();
      return out;
    },
    dispose() {
      tf.dispose([...vars, ...m, ...v, ids, onehot, cos, sin, mask]);
    },
  };
}

// Elementwise activations (gelu, gelu_tanh, silu, relu) and SwiGLU, forward and backward.
// gelu is the exact erf form (HF BERT "gelu"); geluTanh is the tanh approximation (HF
// "gelu_new" / "gelu_pytorch_tanh"); swiglu(gate, up) = silu(gate) * up is Llama's MLP.

import { packUniforms } from '../../gpu/device';
import { ShapeError, type Tensor, type Engine } from '../tensor';
import { assertF32, contiguous, grid, sameShape } from './common';

export type UnaryOp = 'gelu' | 'gelu_tanh' | 'silu' | 'relu';
const OP_CODE: Record<UnaryOp, number> = { gelu: 0, gelu_tanh: 1, silu: 2, relu: 3 };

const nUniform = (n: number): ArrayBuffer => packUniforms([['u32', n]]);

function unary(op: UnaryOp, x: Tensor): Tensor {
  const e = x.engine;
  assertF32(x, op);
  x = contiguous(x);
  const out = e.empty(x.shape);
  e.gpu.dispatch({
    kernel: 'unary_forward',
    constants: { OP: OP_CODE[op] },
    buffers: [x.buffer, out.buffer],
    uniforms: nUniform(x.size),
    workgroups: grid(x.size),
  });
  e.record(op, [x], out, (g) =>
    e.addGrad(x, (dst, acc) =>
      e.gpu.dispatch({
        kernel: 'unary_backward',
        constants: { OP: OP_CODE[op], ACCUMULATE: acc },
        buffers: [x.buffer, g.buffer, dst],
        uniforms: nUniform(x.size),
        workgroups: grid(x.size),
      }),
    ),
  );
  return out;
}

/** 0.5 x (1 + erf(x / sqrt 2)): HF BERT's exact gelu. */
export const gelu = (x: Tensor): Tensor => unary('gelu', x);
/** 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
export const geluTanh = (x: Tensor): Tensor => unary('gelu_tanh', x);
/** x * sigmoid(x). */
export const silu = (x: Tensor): Tensor => unary('silu', x);
/** max(x, 0); the gradient at 0 is 0, as in PyTorch. */
export const relu = (x: Tensor): Tensor => unary('relu', x);

/** silu(gate) * up, elementwise; gate and up must have the same shape (no broadcasting). */
export function swiglu(gate: Tensor, up: Tensor): Tensor {
  const e = gate.engine;
  assertF32(gate, 'swiglu gate');
  assertF32(up, 'swiglu up');
  if (!sameShape(gate.shape, up.shape))
    throw new ShapeError(
      `swiglu: gate [${gate.shape}] and up [${up.shape}] must have the same shape (they are the two halves of the MLP's up projection; swiglu does not broadcast)`,
    );
  gate = contiguous(gate);
  up = contiguous(up);
  const n = gate.size;
  const out = e.empty(gate.shape);
  e.gpu.dispatch({
    kernel: 'swiglu_forward',
    buffers: [gate.buffer, up.buffer, out.buffer],
    uniforms: nUniform(n),
    workgroups: grid(n),
  });
  e.record('swiglu', [gate, up], out, (g) => {
    // One dispatch per input: each gets its own ACCUMULATE, and swiglu(x, x) adds twice.
    const grad = (x: Tensor, wrtUp: boolean) => e.addGrad(x, (dst, acc) => swigluBackwardInto(e, gate, up, g, dst, wrtUp, acc));
    grad(gate, false);
    grad(up, true);
  });
  return out;
}

function swigluBackwardInto(e: Engine, gate: Tensor, up: Tensor, g: Tensor, dst: GPUBuffer, wrtUp: boolean, acc: boolean): void {
  e.gpu.dispatch({
    kernel: 'swiglu_backward',
    constants: { WRT_UP: wrtUp, ACCUMULATE: acc },
    buffers: [gate.buffer, up.buffer, g.buffer, dst],
    uniforms: nUniform(gate.size),
    workgroups: grid(gate.size),
  });
}

// The autograd engine's public surface: tensors, ops, optimizers. Models and training import
// from here, not from individual op files.

export { Engine, Tensor, ShapeError, type TapeNode, type DType } from './tensor';
export { contiguous } from './ops/common';
export { matmul, linear, type MatmulOptions } from './ops/matmul';
export { add, sub, mul, div, scale, bias, broadcastShape } from './ops/binary';

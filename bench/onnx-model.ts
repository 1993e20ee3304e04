// Builds tiny ONNX models as bytes, so benches can run onnxruntime-web on one op without model
// files. A minimal protobuf writer for the few ModelProto fields a one-node graph needs
// (field numbers from onnx/onnx.proto).

const WIRE_VARINT = 0;
const WIRE_LEN = 2;

/** Protobuf message under construction: fields are appended in the order written. */
class Msg {
  private parts: number[] = [];

  private varint(v: number): void {
    // Non-negative integers below 2^53 only; that is all an ONNX shape or version needs.
    while (v >= 0x80) {
      this.parts.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.parts.push(v);
  }

  int(field: number, v: number): this {
    this.varint((field << 3) | WIRE_VARINT);
    this.varint(v);
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.varint((field << 3) | WIRE_LEN);
    this.varint(b.length);
    for (const x of b) this.parts.push(x);
    return this;
  }

  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  msg(field: number, m: Msg): this {
    return this.bytes(field, m.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

const FLOAT = 1; // TensorProto.DataType.FLOAT

/** ValueInfoProto for a float tensor with a static shape. */
function floatValueInfo(name: string, shape: number[]): Msg {
  const dims = new Msg();
  for (const d of shape) dims.msg(1, new Msg().int(1, d)); // TensorShapeProto.dim { dim_value }
  const tensorType = new Msg().int(1, FLOAT).msg(2, dims); // TypeProto.Tensor { elem_type, shape }
  return new Msg().str(1, name).msg(2, new Msg().msg(1, tensorType)); // { name, type { tensor_type } }
}

export interface OneNodeSpec {
  opType: string;
  inputs: Array<{ name: string; shape: number[] }>;
  outputs: Array<{ name: string; shape: number[] }>;
  opset?: number;
}

/** A ModelProto with a single node in the default domain, float inputs and outputs. */
export function oneNodeModel(spec: OneNodeSpec): Uint8Array {
  const node = new Msg();
  for (const i of spec.inputs) node.str(1, i.name);
  for (const o of spec.outputs) node.str(2, o.name);
  node.str(3, spec.opType.toLowerCase()).str(4, spec.opType);

  const graph = new Msg().msg(1, node).str(2, `${spec.opType.toLowerCase()}_graph`);
  for (const i of spec.inputs) graph.msg(11, floatValueInfo(i.name, i.shape));
  for (const o of spec.outputs) graph.msg(12, floatValueInfo(o.name, o.shape));

  return new Msg()
    .int(1, 8) // ir_version
    .str(2, 'medrank-bench') // producer_name
    .msg(7, graph)
    .msg(8, new Msg().str(1, '').int(2, spec.opset ?? 17)) // opset_import { domain, version }
    .finish();
}

// Builds tiny ONNX models as bytes, so benches can run onnxruntime-web on a few ops without model
// files. A minimal protobuf writer for the few ModelProto fields a small graph needs: nodes with
// int/ints attributes, int64 constant initializers, float inputs and outputs (field numbers from
// onnx/onnx.proto).

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

const INT64 = 7; // TensorProto.DataType.INT64
const ATTR_INT = 2; // AttributeProto.AttributeType
const ATTR_INTS = 7;

/** AttributeProto: an int (number) or ints (number[]) attribute. Non-negative values only. */
function attribute(name: string, value: number | number[]): Msg {
  const a = new Msg().str(1, name); // name
  if (typeof value === 'number') return a.int(3, value).int(20, ATTR_INT); // i, type
  for (const v of value) a.int(8, v); // ints (unpacked)
  return a.int(20, ATTR_INTS);
}

/** TensorProto of int64 values (raw little-endian bytes), for constant initializers such as axes. */
function int64Tensor(name: string, dims: number[], values: number[]): Msg {
  const t = new Msg();
  for (const d of dims) t.int(1, d); // dims
  const raw = new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer);
  return t.int(2, INT64).str(8, name).bytes(9, raw); // data_type, name, raw_data
}

export interface NodeSpec {
  opType: string;
  inputs: string[];
  outputs: string[];
  /** int or ints attributes (e.g. ReduceMax's axes and keepdims before opset 18). */
  attributes?: Record<string, number | number[]>;
}

export interface GraphSpec {
  nodes: NodeSpec[];
  /** Float graph inputs and outputs with static shapes. */
  inputs: Array<{ name: string; shape: number[] }>;
  outputs: Array<{ name: string; shape: number[] }>;
  /** Constant int64 initializers (e.g. ReduceSum's axes input from opset 13 on). */
  int64Initializers?: Array<{ name: string; dims: number[]; values: number[] }>;
  opset?: number;
  name?: string;
}

/** A ModelProto whose graph runs `nodes` in order, all in the default domain. */
export function graphModel(spec: GraphSpec): Uint8Array {
  const graph = new Msg();
  for (const [k, n] of spec.nodes.entries()) {
    const node = new Msg();
    for (const i of n.inputs) node.str(1, i);
    for (const o of n.outputs) node.str(2, o);
    node.str(3, `${n.opType.toLowerCase()}_${k}`).str(4, n.opType);
    for (const [name, v] of Object.entries(n.attributes ?? {})) node.msg(5, attribute(name, v));
    graph.msg(1, node);
  }
  graph.str(2, spec.name ?? 'bench_graph');
  for (const t of spec.int64Initializers ?? []) graph.msg(5, int64Tensor(t.name, t.dims, t.values));
  for (const i of spec.inputs) graph.msg(11, floatValueInfo(i.name, i.shape));
  for (const o of spec.outputs) graph.msg(12, floatValueInfo(o.name, o.shape));

  return new Msg()
    .int(1, 8) // ir_version
    .str(2, 'medrank-bench') // producer_name
    .msg(7, graph)
    .msg(8, new Msg().str(1, '').int(2, spec.opset ?? 17)) // opset_import { domain, version }
    .finish();
}

export interface OneNodeSpec {
  opType: string;
  inputs: Array<{ name: string; shape: number[] }>;
  outputs: Array<{ name: string; shape: number[] }>;
  opset?: number;
}

/** A ModelProto with a single node in the default domain, float inputs and outputs. */
export function oneNodeModel(spec: OneNodeSpec): Uint8Array {
  return graphModel({
    nodes: [{ opType: spec.opType, inputs: spec.inputs.map((i) => i.name), outputs: spec.outputs.map((o) => o.name) }],
    inputs: spec.inputs,
    outputs: spec.outputs,
    opset: spec.opset,
    name: `${spec.opType.toLowerCase()}_graph`,
  });
}

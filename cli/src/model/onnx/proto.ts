// The ONNX protobuf messages (onnx-proto, generated from onnx.proto by protobufjs) and the
// few helpers every graph pass needs: decode with a clear error, encode, int64 as number.
import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { ModelError } from '../errors.ts';

export const onnx = onnxProto.onnx;
export type Model = onnxProto.onnx.IModelProto;
export type Graph = onnxProto.onnx.IGraphProto;
export type Node = onnxProto.onnx.INodeProto;
export type Tensor = onnxProto.onnx.ITensorProto;
export type Attribute = onnxProto.onnx.IAttributeProto;
export type ValueInfo = onnxProto.onnx.IValueInfoProto;

export const DataType = onnx.TensorProto.DataType;
export const AttributeType = onnx.AttributeProto.AttributeType;

/** protobufjs yields int64 fields as Long objects; graphs here never exceed 2^53. */
export function num(value: number | { toNumber(): number } | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

/** Decodes bytes into a model, refusing anything that is not a usable ONNX graph. */
export function decodeModel(bytes: Uint8Array, source = 'input'): Model {
  let model: Model;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new ModelError('NOT_ONNX', `${source} is not an ONNX model: ${(err as Error).message}`, { cause: err });
  }
  // Random bytes sometimes decode as an almost empty message; a model needs a graph with nodes.
  if (!model.graph || !model.graph.node?.length || !model.irVersion) {
    throw new ModelError('NOT_ONNX', `${source} is not an ONNX model: no graph with nodes and no IR version`);
  }
  return model;
}

export function loadModel(path: string): Model {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new ModelError('BAD_ARGUMENT', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  return decodeModel(bytes, path);
}

export function encodeModel(model: Model): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** The model's default-domain opset version. */
export function opsetOf(model: Model): number {
  const entry = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  return num(entry?.version);
}

export function setOpset(model: Model, version: number): void {
  const imports = model.opsetImport ?? [];
  const entry = imports.find((o) => !o.domain || o.domain === 'ai.onnx');
  if (entry) entry.version = version;
  else imports.push({ domain: '', version });
  model.opsetImport = imports;
  // IR 7 is the first to allow opset 13 everywhere ORT cares about.
  if (num(model.irVersion) < 7) model.irVersion = 7;
}

export function attr(node: Node, name: string): Attribute | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}

export function attrInt(node: Node, name: string, fallback: number): number {
  const a = attr(node, name);
  return a ? num(a.i) : fallback;
}

export function attrFloat(node: Node, name: string, fallback: number): number {
  const a = attr(node, name);
  return a ? (a.f ?? fallback) : fallback;
}

export function attrInts(node: Node, name: string): number[] | undefined {
  const a = attr(node, name);
  return a ? (a.ints ?? []).map(num) : undefined;
}

export function attrString(node: Node, name: string, fallback: string): string {
  const a = attr(node, name);
  return a?.s ? Buffer.from(a.s).toString('utf8') : fallback;
}

export function intAttr(name: string, value: number): Attribute {
  return { name, type: AttributeType.INT, i: value };
}

export function intsAttr(name: string, values: number[]): Attribute {
  return { name, type: AttributeType.INTS, ints: values };
}

export function floatAttr(name: string, value: number): Attribute {
  return { name, type: AttributeType.FLOAT, f: value };
}

// The Open Inference Protocol's operations, independent of transport: REST and gRPC both
// answer from these, so both say the same thing about health, metadata and results.
import { inferHeaders } from '@edgeplane/api';
import type { WireTensor } from '../runtime/index.ts';
import { AGENT_VERSION } from '../version.ts';
import { InvalidRequestError, ModelNotFoundError, ModelNotReadyError } from '../workloads/errors.ts';
import { metadataOf } from './kserve.ts';
import { answerOf, type EscalationMark, type ModelRegistry, type ServedModel } from './registry.ts';

/** An escalating workload's answer marks, as v2 response parameters named like the NATS headers. */
export function escalationParameters(mark: EscalationMark): Record<string, string> {
  return { [inferHeaders.tier]: mark.tier, [inferHeaders.escalation]: mark.outcome, ...(mark.node ? { [inferHeaders.node]: mark.node } : {}) };
}

export const SERVER_NAME = 'edgeplane-agent';
/** Protocol extensions this server implements (Triton's names, which its clients know). */
export const EXTENSIONS = ['binary_tensor_data', 'model_configuration'] as const;
/** What model metadata says the platform is: every model here runs on ONNX Runtime. */
export const PLATFORM = 'onnxruntime_onnx';

export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

export interface InferRequest {
  id?: string;
  inputs: WireTensor[];
  /** Names of the outputs wanted, in the order wanted; absent: all, in the model's order. */
  outputs?: string[];
  /** Time budget from receipt, ms. */
  timeoutMs?: number;
}

export interface InferResult {
  model_name: string;
  model_version: string;
  id?: string;
  /**
   * For a workload with an escalation tier: `ep-tier`, `ep-escalation` and, when that tier
   * answered, its `ep-node` (the NATS reply headers, as v2 response parameters).
   */
  parameters?: Record<string, string>;
  outputs: WireTensor[];
}

export function serverMetadata(): { name: string; version: string; extensions: string[] } {
  return { name: SERVER_NAME, version: AGENT_VERSION, extensions: [...EXTENSIONS] };
}

/**
 * The server is ready once nothing assigned to it is still on its way (pending, downloading,
 * loading). A placement that failed does not make the server unready: that model answers
 * not-ready on its own endpoint, and the others keep serving.
 */
export function serverReady(registry: ModelRegistry): boolean {
  return registry.models().every((m) => m.ready || m.phase === 'Failed');
}

/**
 * The model by name and, when given, version (a version is a variant name: the one this node
 * runs is its only version here). Unknown name or version: ModelNotFoundError (404).
 */
export function resolveModel(registry: ModelRegistry, name: string, version?: string): ServedModel {
  const m = registry.model(name);
  if (!m) throw new ModelNotFoundError(name);
  if (version !== undefined && version !== '' && version !== m.assignment.variant.name) {
    throw new ModelNotFoundError(`${name} version ${version.slice(0, 64)}`);
  }
  return m;
}

export function modelReady(registry: ModelRegistry, name: string, version?: string): { name: string; ready: boolean } {
  const m = resolveModel(registry, name, version);
  return { name: m.assignment.deployment, ready: m.ready };
}

function readyModel(registry: ModelRegistry, name: string, version?: string): ServedModel {
  const m = resolveModel(registry, name, version);
  if (!m.ready) throw new ModelNotReadyError(name, m.phase);
  return m;
}

/** Inputs and outputs are known once the model is loaded, so this needs a ready model (503 before). */
export function modelMetadata(registry: ModelRegistry, name: string, version?: string): ModelMetadata {
  const m = readyModel(registry, name, version);
  return {
    name: m.assignment.deployment,
    versions: [m.assignment.variant.name],
    platform: PLATFORM,
    inputs: metadataOf(m.inputs),
    outputs: metadataOf(m.outputs),
  };
}

/** Triton's model configuration (its extension), reduced to what clients read to shape requests. */
export interface ModelConfig {
  name: string;
  platform: string;
  backend: string;
  /** > 0: the first dimension is the batch, left out of `dims`; 0: no batch dimension. */
  max_batch_size: number;
  input: { name: string; data_type: string; dims: number[] }[];
  output: { name: string; data_type: string; dims: number[] }[];
}

/**
 * A model whose tensors all start with a free dimension batches along it, up to the
 * deployment's maxBatch; its dims leave that dimension out, as Triton's do.
 */
export function modelConfig(registry: ModelRegistry, name: string, version?: string): ModelConfig {
  const m = readyModel(registry, name, version);
  const inputs = metadataOf(m.inputs);
  const outputs = metadataOf(m.outputs);
  const batched = [...inputs, ...outputs].every((t) => t.shape.length > 0 && t.shape[0] === -1);
  const dims = (shape: number[]) => (batched ? shape.slice(1) : shape);
  return {
    name: m.assignment.deployment,
    platform: PLATFORM,
    backend: 'onnxruntime',
    max_batch_size: batched ? m.assignment.maxBatch : 0,
    input: inputs.map((t) => ({ name: t.name, data_type: `TYPE_${t.datatype}`, dims: dims(t.shape) })),
    output: outputs.map((t) => ({ name: t.name, data_type: `TYPE_${t.datatype}`, dims: dims(t.shape) })),
  };
}

export async function infer(registry: ModelRegistry, name: string, version: string | undefined, req: InferRequest): Promise<InferResult> {
  const m = readyModel(registry, name, version);
  if (req.outputs) {
    const known = new Set(m.outputs.map((o) => o.name));
    const unknown = req.outputs.find((o) => !known.has(o));
    if (unknown !== undefined) throw new InvalidRequestError(`output ${unknown.slice(0, 256)} is not an output of model ${name}; it has ${[...known].join(', ')}`);
  }
  const answer = await answerOf(m, req.inputs, req.timeoutMs !== undefined ? { timeoutMs: req.timeoutMs } : {});
  const outputs = answer.outputs;
  let chosen = outputs;
  if (req.outputs) {
    const byName = new Map(outputs.map((o) => [o.name, o]));
    chosen = req.outputs.map((n) => byName.get(n)).filter((o): o is WireTensor => o !== undefined);
  }
  const mark = answer.escalation;
  return {
    model_name: m.assignment.deployment,
    // The escalation tier's answer is its variant's.
    model_version: mark?.variant ?? m.assignment.variant.name,
    ...(req.id !== undefined && req.id !== '' ? { id: req.id } : {}),
    ...(mark ? { parameters: escalationParameters(mark) } : {}),
    outputs: chosen,
  };
}

// ONNX Runtime sessions: one per (variant, accelerator). Tries the accelerator's execution
// providers, falls back to CPU with a recorded reason when they do not load, warms up with
// a zero input, and records load and warm-up times.
import type { Accelerator } from '@edgeplane/api';
import * as ort from 'onnxruntime-node';
import { pino, type Logger } from 'pino';
import { ModelLoadError } from '../workloads/errors.ts';
import { providerPlan } from './providers.ts';
import { byteSize, datatypeOfOrt, isFreeDim, type TensorSpec, type WireTensor } from './tensors.ts';

export interface SessionOptions {
  /** Intra-op threads; 0 lets ONNX Runtime choose. */
  threads?: number;
  logger?: Logger;
  /** Names the session in logs and errors, e.g. `ns/deploy@int8 on gpu0`. */
  label?: string;
}

export interface LoadedSession {
  session: ort.InferenceSession;
  /** Providers the session runs on. */
  providers: string[];
  /** Set when it runs on CPU although the accelerator is not a CPU: why. */
  fallbackReason?: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  loadMs: number;
  /** The first run, which includes one-time allocation. */
  warmupMs: number;
  /** A second run of one row, a prior for the balancer before it has measurements. */
  steadyMs: number;
}

function specsOf(meta: readonly ort.InferenceSession.ValueMetadata[], what: string): TensorSpec[] {
  return meta.map((m) => {
    if (!m.isTensor) throw new Error(`${what} ${m.name} is not a tensor`);
    const datatype = datatypeOfOrt(m.type);
    if (!datatype) throw new Error(`${what} ${m.name} has element type ${m.type}, which is not served`);
    return { name: m.name, datatype, shape: [...m.shape] };
  });
}

/** An ORT tensor over wire bytes, copying only when the bytes are not aligned for the type. */
export function toOrtTensor(t: WireTensor): ort.Tensor {
  const type = t.datatype;
  const bytes = t.data;
  const view = <A>(C: { new (b: ArrayBufferLike, o: number, n: number): A; BYTES_PER_ELEMENT: number }): A => {
    // A copy through the Uint8Array constructor: Buffer#slice would return a view at the same offset.
    const aligned = bytes.byteOffset % C.BYTES_PER_ELEMENT === 0 ? bytes : new Uint8Array(bytes);
    return new C(aligned.buffer, aligned.byteOffset, aligned.byteLength / C.BYTES_PER_ELEMENT);
  };
  switch (type) {
    case 'FP32':
      return new ort.Tensor('float32', view(Float32Array), t.shape);
    case 'FP16': {
      // onnxruntime-common turns Uint16Array into Float16Array where the runtime has one
      // (Node 24), which the native binding does not accept; keep the Uint16Array.
      const u16 = view(Uint16Array);
      const tensor = new ort.Tensor('float16', u16, t.shape);
      (tensor as unknown as { cpuData: Uint16Array }).cpuData = u16;
      return tensor;
    }
    case 'INT8':
      return new ort.Tensor('int8', view(Int8Array), t.shape);
    case 'UINT8':
      return new ort.Tensor('uint8', view(Uint8Array), t.shape);
    case 'INT32':
      return new ort.Tensor('int32', view(Int32Array), t.shape);
    case 'INT64':
      return new ort.Tensor('int64', view(BigInt64Array), t.shape);
    case 'BOOL':
      return new ort.Tensor('bool', view(Uint8Array), t.shape);
  }
}

export function fromOrtTensor(name: string, t: ort.Tensor): WireTensor {
  const datatype = datatypeOfOrt(t.type);
  if (!datatype) throw new Error(`output ${name} has element type ${t.type}, which is not served`);
  const data = t.data as ArrayBufferView;
  return { name, datatype, shape: t.dims.map(Number), data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** A zero input with every free dimension set to 1. */
export function zeroInputs(inputs: readonly TensorSpec[]): WireTensor[] {
  return inputs.map((s) => {
    const shape = s.shape.map((d) => (isFreeDim(d) ? 1 : (d as number)));
    return { name: s.name, datatype: s.datatype, shape, data: new Uint8Array(byteSize({ datatype: s.datatype, shape })) };
  });
}

export async function runSession(s: ort.InferenceSession, outputs: readonly TensorSpec[], inputs: readonly WireTensor[]): Promise<WireTensor[]> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const t of inputs) feeds[t.name] = toOrtTensor(t);
  const result = await s.run(feeds);
  return outputs.map((o) => {
    const t = result[o.name];
    if (!t) throw new Error(`the session returned no output ${o.name}`);
    return fromOrtTensor(o.name, t);
  });
}

export async function loadSession(model: Uint8Array, accelerator: Accelerator, options: SessionOptions = {}): Promise<LoadedSession> {
  const log = options.logger ?? pino({ level: 'silent' });
  const label = options.label ?? accelerator.id;
  const available = ort.listSupportedBackends().map((b) => b.name);
  const plan = providerPlan(accelerator, available);
  let fallbackReason = plan.skipped;
  const started = performance.now();
  let session: ort.InferenceSession | null = null;
  let providers: string[] = [];
  for (const attempt of plan.attempts) {
    try {
      session = await ort.InferenceSession.create(model, {
        executionProviders: attempt,
        graphOptimizationLevel: 'all',
        ...(options.threads ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {}),
      });
      providers = attempt;
      break;
    } catch (cause) {
      if (attempt[0] === 'cpu') throw new ModelLoadError(label, { cause });
      fallbackReason = `${attempt.join('+').toUpperCase()} provider not loadable, running on CPU`;
      log.warn({ session: label, accelerator: accelerator.id, providers: attempt, err: (cause as Error).message }, fallbackReason);
    }
  }
  if (!session) throw new ModelLoadError(label);
  const loadMs = performance.now() - started;
  try {
    const inputs = specsOf(session.inputMetadata, 'input');
    const outputs = specsOf(session.outputMetadata, 'output');
    const w = performance.now();
    await runSession(session, outputs, zeroInputs(inputs));
    const warmupMs = performance.now() - w;
    const s2 = performance.now();
    await runSession(session, outputs, zeroInputs(inputs));
    const steadyMs = performance.now() - s2;
    log.info({ session: label, accelerator: accelerator.id, providers, loadMs: Math.round(loadMs), warmupMs: Math.round(warmupMs) }, 'session loaded');
    return { session, providers, ...(fallbackReason && accelerator.type !== 'CPU' ? { fallbackReason } : {}), inputs, outputs, loadMs, warmupMs, steadyMs };
  } catch (cause) {
    await session.release().catch(() => undefined);
    throw new ModelLoadError(`${label} (warm-up)`, { cause });
  }
}

// ONNX Runtime sessions: one per (variant, accelerator). Tries the accelerator's execution
// providers, falls back to CPU with a recorded reason when they do not load, warms up with
// a zero input, and records load and warm-up times.
import type { Accelerator } from '@edgeplane/api';
import { pino, type Logger } from 'pino';
import { ModelLoadError } from '../workloads/errors.ts';
import { sessionHost, type Isolation, type RawSession, type ValueMeta } from './host.ts';
import { providerPlan } from './providers.ts';
import { byteSize, datatypeOfOrt, isFreeDim, type TensorSpec, type WireTensor } from './tensors.ts';

export interface SessionOptions {
  /** Intra-op threads; 0 lets ONNX Runtime choose. */
  threads?: number;
  /** `worker` (the agent's default) runs the session in its own thread; `inline` in this one. */
  isolation?: Isolation;
  logger?: Logger;
  /** Names the session in logs and errors, e.g. `ns/deploy@int8 on gpu0`. */
  label?: string;
}

export interface LoadedSession {
  session: RawSession;
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
  /** Where it runs: `inline` also when a worker was asked for but cannot load the library. */
  isolation: Isolation;
  /** Releases the session and its thread. */
  release(): Promise<void>;
}

function specsOf(meta: readonly ValueMeta[], what: string): TensorSpec[] {
  return meta.map((m) => {
    if (!m.isTensor) throw new Error(`${what} ${m.name} is not a tensor`);
    const datatype = datatypeOfOrt(m.type);
    if (!datatype) throw new Error(`${what} ${m.name} has element type ${m.type}, which is not served`);
    return { name: m.name, datatype, shape: [...m.shape] };
  });
}

/** A zero input with every free dimension set to 1. */
export function zeroInputs(inputs: readonly TensorSpec[]): WireTensor[] {
  return inputs.map((s) => {
    const shape = s.shape.map((d) => (isFreeDim(d) ? 1 : (d as number)));
    return { name: s.name, datatype: s.datatype, shape, data: new Uint8Array(byteSize({ datatype: s.datatype, shape })) };
  });
}

export function runSession(s: RawSession, outputs: readonly TensorSpec[], inputs: readonly WireTensor[]): Promise<WireTensor[]> {
  return s.run(inputs, outputs.map((o) => o.name));
}

export async function loadSession(model: Uint8Array, accelerator: Accelerator, options: SessionOptions = {}): Promise<LoadedSession> {
  const log = options.logger ?? pino({ level: 'silent' });
  const label = options.label ?? accelerator.id;
  const wanted = options.isolation ?? 'inline';
  const { host, isolation } = sessionHost(wanted);
  if (isolation !== wanted) log.warn({ session: label }, 'onnxruntime-node is not on disk for a session thread; running the session in the main thread');
  let plan: ReturnType<typeof providerPlan>;
  try {
    plan = providerPlan(accelerator, await host.providers());
  } catch (cause) {
    await host.close();
    throw new ModelLoadError(label, { cause });
  }
  let fallbackReason = plan.skipped;
  const started = performance.now();
  let session: RawSession | null = null;
  let providers: string[] = [];
  for (const attempt of plan.attempts) {
    try {
      session = await host.create(model, attempt, options.threads ?? 0);
      providers = attempt;
      break;
    } catch (cause) {
      if (attempt[0] === 'cpu') {
        await host.close();
        throw new ModelLoadError(label, { cause });
      }
      fallbackReason = `${attempt.join('+').toUpperCase()} provider not loadable, running on CPU`;
      log.warn({ session: label, accelerator: accelerator.id, providers: attempt, err: cause }, fallbackReason);
    }
  }
  if (!session) {
    await host.close();
    throw new ModelLoadError(label);
  }
  const loadMs = performance.now() - started;
  const s = session;
  const release = async () => {
    await s.release();
    await host.close();
  };
  try {
    const inputs = specsOf(s.inputMetadata, 'input');
    const outputs = specsOf(s.outputMetadata, 'output');
    const w = performance.now();
    await runSession(s, outputs, zeroInputs(inputs));
    const warmupMs = performance.now() - w;
    const s2 = performance.now();
    await runSession(s, outputs, zeroInputs(inputs));
    const steadyMs = performance.now() - s2;
    log.info({ session: label, accelerator: accelerator.id, providers, loadMs: Math.round(loadMs), warmupMs: Math.round(warmupMs) }, 'session loaded');
    return { session: s, providers, ...(fallbackReason && accelerator.type !== 'CPU' ? { fallbackReason } : {}), inputs, outputs, loadMs, warmupMs, steadyMs, isolation, release };
  } catch (cause) {
    await release().catch(() => undefined);
    throw new ModelLoadError(`${label} (warm-up)`, { cause });
  }
}

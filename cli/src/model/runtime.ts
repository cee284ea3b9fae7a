// ONNX Runtime (CPU provider) sessions for measuring variants.
import * as ort from 'onnxruntime-node';

export interface SessionOptions {
  /** Intra-op threads; 1 by default so measurements match a single edge core. */
  threads?: number;
  /** Where ORT writes the graph after its optimisations (to see which kernels it fused). */
  optimizedModelPath?: string;
  /** Turns on ORT's profiler, writing `<prefix>_<date>.json` when the session ends profiling. */
  profilePrefix?: string;
}

export type Session = ort.InferenceSession;

export async function openSession(model: string | Uint8Array, options: SessionOptions = {}): Promise<Session> {
  const opts: ort.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: options.threads ?? 1,
    interOpNumThreads: 1,
    logSeverityLevel: 3,
  };
  if (options.optimizedModelPath) opts.optimizedModelFilePath = options.optimizedModelPath;
  if (options.profilePrefix) {
    opts.enableProfiling = true;
    opts.profileFilePrefix = options.profilePrefix;
  }
  return typeof model === 'string' ? ort.InferenceSession.create(model, opts) : ort.InferenceSession.create(model, opts);
}

export interface Output {
  data: Float32Array;
  dims: number[];
}

/** Runs the session on one float32 input and returns the float32 outputs by name. */
export async function run(session: Session, data: Float32Array, dims: readonly number[], outputs?: string[]): Promise<Map<string, Output>> {
  const input = session.inputNames[0];
  if (!input) throw new Error('model has no input');
  const feeds = { [input]: new ort.Tensor('float32', data, [...dims]) };
  const result = outputs ? await session.run(feeds, outputs) : await session.run(feeds);
  const out = new Map<string, Output>();
  for (const [name, value] of Object.entries(result)) {
    if (value.type === 'float32') out.set(name, { data: value.data as Float32Array, dims: [...value.dims] });
  }
  return out;
}

// Where sessions run. onnxruntime-node's run() blocks the calling thread for the whole
// inference, so the agent runs each session in its own worker thread: the event loop stays
// free for NATS and HTTP, and two sessions use two cores. `inline` runs in the calling
// thread (tests, tools). The main thread must not load onnxruntime-node itself when workers
// run sessions: measured here, that alone serialises the workers' runs onto one core.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { WireTensor } from './tensors.ts';
import { ortTypeOf, datatypeOfOrt } from './tensors.ts';

export interface ValueMeta {
  name: string;
  isTensor: boolean;
  type: string;
  shape: (number | string)[];
}

/** A created ONNX Runtime session, wherever it runs. */
export interface RawSession {
  readonly inputMetadata: readonly ValueMeta[];
  readonly outputMetadata: readonly ValueMeta[];
  run(inputs: readonly WireTensor[], outputNames: readonly string[]): Promise<WireTensor[]>;
  release(): Promise<void>;
}

export interface SessionHost {
  /** Execution providers this build of onnxruntime-node has (listSupportedBackends). */
  providers(): Promise<string[]>;
  /** Creates a session with exactly these providers; throws when they do not load. */
  create(model: Uint8Array, providers: string[], threads: number): Promise<RawSession>;
  /** Frees what the host holds once no session is left (the worker thread). */
  close(): Promise<void>;
}

export const ISOLATIONS = ['worker', 'inline'] as const;
export type Isolation = (typeof ISOLATIONS)[number];

/**
 * Path of onnxruntime-node's entry on disk, for the worker to load; null when there is none
 * (a single executable with the library bundled in), and then sessions run inline.
 */
export function resolveOrtModule(): string | null {
  const bases: string[] = [];
  // ESM (tsx, tests); a CommonJS bundle has no import.meta but has __filename.
  const url = (import.meta as { url?: unknown }).url;
  if (typeof url === 'string' && url !== '') bases.push(url);
  if (typeof __filename === 'string') bases.push(__filename);
  bases.push(join(dirname(process.execPath), 'index.js'));
  for (const base of bases) {
    try {
      return createRequire(base).resolve('onnxruntime-node');
    } catch {
      // not resolvable from here; try the next base
    }
  }
  return null;
}

/** Wire tensor -> ORT tensor fields, shared by both hosts (the worker gets them as plain data). */
interface TensorMsg {
  name: string;
  type: string;
  dims: number[];
  buffer: ArrayBuffer;
}

function toMsg(t: WireTensor): TensorMsg {
  // A copy of exactly these bytes, aligned, and transferable to the worker.
  const copy = new Uint8Array(t.data);
  return { name: t.name, type: ortTypeOf(t.datatype), dims: t.shape, buffer: copy.buffer };
}

function fromMsg(m: TensorMsg): WireTensor {
  const datatype = datatypeOfOrt(m.type);
  if (!datatype) throw new Error(`output ${m.name} has element type ${m.type}, which is not served`);
  return { name: m.name, datatype, shape: m.dims, data: new Uint8Array(m.buffer) };
}

// Plain JavaScript so it runs in a worker without a TypeScript loader, in tests and in the
// bundled binary alike. It only creates sessions and converts tensors.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
const ARRAYS = { float32: Float32Array, float16: Uint16Array, int8: Int8Array, uint8: Uint8Array, int32: Int32Array, int64: BigInt64Array, bool: Uint8Array };
let session = null;
function toTensor(t) {
  const C = ARRAYS[t.type];
  const data = new C(t.buffer, 0, t.buffer.byteLength / C.BYTES_PER_ELEMENT);
  const tensor = new ort.Tensor(t.type, data, t.dims);
  // onnxruntime-common swaps Uint16Array for Float16Array where one exists; the binding wants Uint16Array.
  if (t.type === 'float16') tensor.cpuData = data;
  return tensor;
}
const meta = (m) => m.map((v) => ({ name: v.name, isTensor: v.isTensor, type: v.type, shape: v.isTensor ? [...v.shape] : [] }));
parentPort.on('message', async (m) => {
  try {
    if (m.op === 'create') {
      session = await ort.InferenceSession.create(new Uint8Array(m.model), m.options);
      parentPort.postMessage({ id: m.id, ok: true, inputs: meta(session.inputMetadata), outputs: meta(session.outputMetadata) });
    } else if (m.op === 'run') {
      const feeds = {};
      for (const t of m.inputs) feeds[t.name] = toTensor(t);
      const result = await session.run(feeds);
      const outputs = [];
      const transfer = [];
      for (const name of m.outputNames) {
        const t = result[name];
        if (!t) throw new Error('the session returned no output ' + name);
        const d = t.data;
        const copy = new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
        outputs.push({ name, type: t.type, dims: t.dims.map(Number), buffer: copy.buffer });
        transfer.push(copy.buffer);
      }
      parentPort.postMessage({ id: m.id, ok: true, outputs }, transfer);
    } else if (m.op === 'providers') {
      parentPort.postMessage({ id: m.id, ok: true, providers: ort.listSupportedBackends().map((b) => b.name) });
    } else if (m.op === 'release') {
      if (session) await session.release();
      session = null;
      parentPort.postMessage({ id: m.id, ok: true });
    }
  } catch (e) {
    parentPort.postMessage({ id: m.id, ok: false, error: e && e.message ? e.message : String(e) });
  }
});
`;

interface Reply {
  id: number;
  ok: boolean;
  error?: string;
  providers?: string[];
  inputs?: ValueMeta[];
  outputs?: ValueMeta[] | TensorMsg[];
}

/** One worker thread holding at most one session at a time. */
export function workerHost(ortPath: string): SessionHost {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ortPath } });
  worker.unref();
  let nextId = 1;
  const waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  let dead: Error | null = null;
  const failAll = (err: Error) => {
    dead = err;
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  };
  worker.on('message', (r: Reply) => {
    const w = waiting.get(r.id);
    waiting.delete(r.id);
    if (!w) return;
    if (r.ok) w.resolve(r);
    else w.reject(new Error(r.error ?? 'session worker failed'));
  });
  worker.on('error', (err) => failAll(err));
  worker.on('exit', (code) => failAll(new Error(`session worker exited with code ${code}`)));
  const call = (msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<Reply> => {
    if (dead) return Promise.reject(dead);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      worker.postMessage({ ...msg, id }, transfer);
    });
  };

  return {
    async providers() {
      return (await call({ op: 'providers' })).providers ?? [];
    },
    async create(model, providers, threads) {
      const copy = new Uint8Array(model);
      const options = { executionProviders: providers, graphOptimizationLevel: 'all', ...(threads ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}) };
      const r = await call({ op: 'create', model: copy.buffer, options }, [copy.buffer]);
      return {
        inputMetadata: r.inputs ?? [],
        outputMetadata: (r.outputs as ValueMeta[] | undefined) ?? [],
        async run(inputs, outputNames) {
          const msgs = inputs.map(toMsg);
          const reply = await call({ op: 'run', inputs: msgs, outputNames }, msgs.map((m) => m.buffer));
          return ((reply.outputs as TensorMsg[] | undefined) ?? []).map(fromMsg);
        },
        async release() {
          await call({ op: 'release' }).catch(() => undefined);
        },
      };
    },
    async close() {
      failAll(new Error('session worker closed'));
      await worker.terminate();
    },
  };
}

/** Sessions in the calling thread; onnxruntime-node is loaded on first use. */
export function inlineHost(): SessionHost {
  return {
    async providers() {
      const ort = await import('onnxruntime-node');
      return ort.listSupportedBackends().map((b) => b.name);
    },
    async create(model, providers, threads) {
      const ort = await import('onnxruntime-node');
      const { toOrtTensor, fromOrtTensor } = await import('./ort-tensors.ts');
      const session = await ort.InferenceSession.create(model, {
        executionProviders: providers,
        graphOptimizationLevel: 'all',
        ...(threads ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}),
      });
      const meta = (m: readonly { name: string; isTensor: boolean; type?: string; shape?: readonly (number | string)[] }[]): ValueMeta[] =>
        m.map((v) => ({ name: v.name, isTensor: v.isTensor, type: v.type ?? '', shape: [...(v.shape ?? [])] }));
      return {
        inputMetadata: meta(session.inputMetadata),
        outputMetadata: meta(session.outputMetadata),
        async run(inputs, outputNames) {
          const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
          for (const t of inputs) feeds[t.name] = toOrtTensor(t);
          const result = await session.run(feeds);
          return outputNames.map((name) => {
            const t = result[name];
            if (!t) throw new Error(`the session returned no output ${name}`);
            return fromOrtTensor(name, t);
          });
        },
        release: () => session.release(),
      };
    },
    async close() {},
  };
}

let ortPath: string | null | undefined;

/** A worker host when asked and onnxruntime-node is on disk; otherwise inline. */
export function sessionHost(isolation: Isolation): { host: SessionHost; isolation: Isolation } {
  if (isolation === 'worker') {
    ortPath ??= resolveOrtModule();
    if (ortPath) return { host: workerHost(ortPath), isolation };
  }
  return { host: inlineHost(), isolation: 'inline' };
}

// Where a session's time goes, by operator, from ONNX Runtime's own profiler: the evidence for
// what bounds a variant's speed (for example conversions or small kernels that int8 does not speed up).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSession, run } from '../runtime.ts';

export interface OpTime {
  op: string;
  /** Microseconds per run, summed over the operator's nodes. */
  usPerRun: number;
  share: number;
  nodes: number;
}

export interface OrtProfile {
  runs: number;
  /** Median of ORT's own `model_run` events, microseconds. */
  modelRunP50Us: number;
  /** Kernel time per run, microseconds (the rest of model_run is ORT's own overhead). */
  kernelUsPerRun: number;
  ops: OpTime[];
}

interface TraceEvent {
  cat?: string;
  name?: string;
  dur?: number;
  args?: { op_name?: string };
}

/** Summarises a trace ORT wrote (Chrome trace format). */
export function summariseTrace(events: readonly TraceEvent[], runs: number): OrtProfile {
  const byOp = new Map<string, { us: number; count: number }>();
  let total = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time')) continue;
    const op = e.args?.op_name ?? '?';
    const a = byOp.get(op) ?? { us: 0, count: 0 };
    a.us += e.dur ?? 0;
    a.count++;
    byOp.set(op, a);
    total += e.dur ?? 0;
  }
  const runsUs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').map((e) => e.dur ?? 0).sort((a, b) => a - b);
  const n = Math.max(1, runs);
  return {
    runs,
    modelRunP50Us: runsUs[Math.floor(runsUs.length / 2)] ?? 0,
    kernelUsPerRun: Math.round(total / n),
    ops: [...byOp]
      .map(([op, a]) => ({ op, usPerRun: Math.round(a.us / n), share: total ? Math.round((1000 * a.us) / total) / 1000 : 0, nodes: Math.round(a.count / n) }))
      .sort((a, b) => b.usPerRun - a.usPerRun),
  };
}

/** Runs `model` `runs` times on `input` with ORT's profiler on (after two unprofiled warm-up runs are not possible: ORT profiles from session start, so the first runs are dropped by `skip`). */
export async function ortProfile(model: string | Uint8Array, input: Float32Array, dims: readonly number[], runs: number, threads = 1): Promise<OrtProfile> {
  const dir = mkdtempSync(join(tmpdir(), 'ep-ort-prof-'));
  try {
    const session = await openSession(model, { threads, profilePrefix: join(dir, 'trace') });
    for (let i = 0; i < runs; i++) await run(session, input, dims);
    session.endProfiling();
    await session.release();
    const file = readdirSync(dir).find((f) => f.endsWith('.json'));
    const events = file ? (JSON.parse(readFileSync(join(dir, file), 'utf8')) as TraceEvent[]) : [];
    return summariseTrace(events, runs);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

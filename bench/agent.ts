// `npm run bench -- agent --json`: the agent's balancer on (a) a simulated heterogeneous set
// of executors on a discrete-event clock (JSON `simulated`: it measures the policy, not this
// machine) and (b) unequal real ONNX Runtime CPU sessions on this machine (JSON `real`): an
// int8-static and an fp32 session of the same PP-OCR model, their capacities measured alone and
// balanced together; plus the RSS of an idle agent process, and (c) of the shipped binary idle
// and connected to NATS (JSON `rssIdleConnectedMiB`; `--rss-only` measures just that).
//
// (a) Service times, derived from the devices of the design brief for a ResNet-50-class int8
// classifier of 8.2 GOP per image (4.1 GMAC):
//   GPU-like: Jetson AGX Xavier GPU (the brief's heterogeneous-scheduling example), 22 TOPS
//     int8 peak (its datasheet), 20 % sustained at batch 1 -> 8.2e9 / 4.4e12 = 1.86 ms.
//   NPU-like: Huawei Ascend 310, 16 TOPS int8 (the brief), 30 % at batch 1 -> 1.71 ms.
//   CPU: the Xavier's 8-core Carmel, about 1 TOPS int8 with NEON dot-product, 50 % -> 16.4 ms;
//     1/9 of the GPU, inside the brief's 1/10..1/100 range of edge against server compute.
// A batch of b costs t1 * (f + (1 - f) * b), where f is the fixed share (launch, transfer)
// that batching amortises: 0.6 GPU, 0.5 NPU, 0.1 CPU (assumed, stated, not measured).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build as esbuild } from 'esbuild';
import type { Accelerator } from '@edgeplane/api';
import { cacheDir } from '@edgeplane/env';
import { Balancer, SimClock, type Clock, type Executor, type Policy, percentile, realClock } from '../agent/src/balancer/index.ts';
import { loadSession, sessionExecutor, type InferInputs, type LoadedSession, type WireTensor } from '../agent/src/runtime/index.ts';
import { ppocrFile } from '../cli/src/model/ocr/models.ts';
import { makeSamples } from '../cli/src/model/ocr/tasks.ts';
import { isCurrentQuantization } from '../cli/src/model/manifest.ts';
import { numberFlag, type Bench } from './run.ts';
import { measureBinaryIdleRss, measurePlainNodeRss } from './agent-rss.ts';

const GOP = 8.2;
export const SIMULATED = [
  { id: 'gpu0', kind: 'GPU-like (Jetson AGX Xavier GPU)', tops: 22, util: 0.2, fixed: 0.6 },
  { id: 'npu0', kind: 'NPU-like (Ascend 310)', tops: 16, util: 0.3, fixed: 0.5 },
  { id: 'cpu0', kind: 'CPU (Xavier Carmel, 8 cores)', tops: 1, util: 0.5, fixed: 0.1 },
].map((d) => ({ ...d, t1Ms: GOP / (d.tops * d.util) }));

interface RunResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
}

/** Closed loop: `clients` callers, each sending again when answered, until `total` answers. */
async function closedLoop<T, R>(clock: Clock, sim: SimClock | null, balancer: Balancer<T, R>, input: () => T, clients: number, total: number, limitMs: number): Promise<RunResult> {
  let sent = 0;
  let done = 0;
  let failed = 0;
  const latencies: number[] = [];
  const start = clock.now();
  const client = async (): Promise<void> => {
    while (sent < total && clock.now() - start < limitMs) {
      sent++;
      const t = clock.now();
      try {
        await balancer.submit(input());
        latencies.push(clock.now() - t);
      } catch {
        failed++;
      }
      done++;
    }
  };
  const all = Promise.all(Array.from({ length: clients }, client));
  if (sim) await sim.run(() => done >= total);
  await all;
  latencies.sort((a, b) => a - b);
  return { rps: (latencies.length * 1000) / (clock.now() - start), p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99), failed };
}

/** Open loop: Poisson arrivals at `rps` for `total` requests (seeded, so runs repeat). */
async function openLoop(sim: SimClock, balancer: Balancer<number, number>, rps: number, total: number): Promise<RunResult> {
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) + 1) / 2 ** 31;
  const latencies: number[] = [];
  let done = 0;
  let failed = 0;
  let sent = 0;
  const arrive = () => {
    if (sent >= total) return;
    sent++;
    const t = sim.now();
    balancer.submit(sent).then(
      () => latencies.push(sim.now() - t),
      () => failed++,
    ).finally(() => done++);
    sim.setTimer(arrive, -Math.log(rand()) * (1000 / rps));
  };
  const start = sim.now();
  arrive();
  await sim.run(() => done >= total);
  latencies.sort((a, b) => a - b);
  return { rps: (latencies.length * 1000) / (sim.now() - start), p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99), failed };
}

function simulatedSet(clock: SimClock, ids: readonly string[]): Executor<number, number>[] {
  return SIMULATED.filter((d) => ids.includes(d.id)).map((d) => ({
    id: d.id,
    acceleratorId: d.id,
    priorMs: d.t1Ms,
    async run(items) {
      await clock.sleep(d.t1Ms * (d.fixed + (1 - d.fixed) * items.length));
      return items;
    },
  }));
}

async function simulated(log: (l: string) => void, total: number) {
  const run = async (ids: string[], policy: Policy, maxBatch: number) => {
    const clock = new SimClock();
    const balancer = new Balancer<number, number>({ name: 'sim', executors: simulatedSet(clock, ids), maxBatch, maxQueueDelayMs: maxBatch > 1 ? 2 : 0, maxQueue: 1024, policy, clock });
    return closedLoop(clock, clock, balancer, () => 1, 64, total, Number.POSITIVE_INFINITY);
  };
  const singles: Record<string, RunResult> = {};
  for (const d of SIMULATED) singles[d.id] = await run([d.id], 'least-completion', 1);
  const [bestId, best] = Object.entries(singles).sort((a, b) => b[1].rps - a[1].rps)[0]!;
  const all = SIMULATED.map((d) => d.id);
  const roundRobin = await run(all, 'round-robin', 1);
  const balanced = await run(all, 'least-completion', 1);
  const batched = await run(all, 'least-completion', 8);
  // Latency at 70 % of the batched balancer's capacity, open loop.
  const clock = new SimClock();
  const b = new Balancer<number, number>({ name: 'sim', executors: simulatedSet(clock, all), maxBatch: 8, maxQueueDelayMs: 2, maxQueue: 1024, clock });
  const at70 = await openLoop(clock, b, batched.rps * 0.7, total);
  const sum = SIMULATED.reduce((s, d) => s + 1000 / d.t1Ms, 0);
  for (const d of SIMULATED) log(`  (a) ${d.kind}: ${d.t1Ms.toFixed(2)} ms/image at batch 1, alone ${singles[d.id]!.rps.toFixed(0)} rps`);
  log(`  (a) best single ${bestId} ${best.rps.toFixed(0)} rps; round robin ${roundRobin.rps.toFixed(0)}; balanced ${balanced.rps.toFixed(0)} (sum of capacities ${sum.toFixed(0)}); balanced+batched ${batched.rps.toFixed(0)}`);
  log(`  (a) open loop at ${(batched.rps * 0.7).toFixed(0)} rps: p50 ${at70.p50Ms.toFixed(2)} ms, p99 ${at70.p99Ms.toFixed(2)} ms`);
  return { singles, bestId, best, roundRobin, balanced, batched, at70, sumOfCapacities: sum };
}

/** The variants `make up` and the variants bench make, cached under the servers' cache folder. */
const REAL_MODELS = {
  cls: { name: 'ppocr-v4-cls', what: 'PP-OCR mobile v2.0 direction classifier', shape: [1, 3, 48, 192], calibration: 64 },
  rec: { name: 'ppocr-v4-rec', what: 'PP-OCRv4 text recogniser', shape: [1, 3, 48, 320], calibration: 32 },
} as const;
type RealModel = keyof typeof REAL_MODELS;

/**
 * Path of each variant of `model`, quantized into the cache the first time (as `make up` does for
 * cls). Quantizing runs in a child process: it loads onnxruntime-node, and once this thread has
 * loaded it, the sessions in worker threads run one at a time.
 */
function cachedVariants(model: RealModel, log: (l: string) => void): (variant: string) => string {
  const m = REAL_MODELS[model];
  const dir = join(cacheDir, 'models', m.name);
  if (!isCurrentQuantization(dir)) {
    log(`  quantizing ${m.name} into ${dir} (first time only)`);
    const root = join(dirname(fileURLToPath(import.meta.url)), '..');
    const args = ['model', 'quantize', ppocrFile(model), '--out', dir, '--name', m.name, '--task', model, '--shape', `x=${m.shape.join('x')}`];
    args.push('--calibration', String(m.calibration), '--calibration-method', 'percentile', '--percentile', '99.99', '--force');
    const child = spawnSync(process.execPath, [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'cli', 'src', 'main.ts'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.status !== 0) throw new Error(`quantizing ${m.name} failed: ${child.stderr || child.stdout}`);
  }
  return (variant) => {
    const file = join(dir, `${m.name}-${variant}.onnx`);
    if (!existsSync(file)) throw new Error(`--real-executors: no variant ${variant} in ${dir}`);
    return file;
  };
}

export interface RealExecutorSpec {
  variant: string;
  threads: number;
}

/** `int8-static:1,fp32:2` -> one session per entry, variant and intra-op threads. */
export function parseExecutors(text: string): RealExecutorSpec[] {
  const specs = text.split(',').map((part) => {
    const [variant = '', threads = '1', extra] = part.trim().split(':');
    const n = Number(threads);
    if (!/^[a-z0-9-]+$/.test(variant) || extra !== undefined || !Number.isInteger(n) || n < 1 || n > 64) {
      throw new Error(`--real-executors: "${part}" is not <variant>:<threads>, for example int8-static:1`);
    }
    return { variant, threads: n };
  });
  if (specs.length < 2) throw new Error('--real-executors: at least two executors to balance over');
  return specs;
}

function stringFlag(argv: string[], name: string, fallback: string): string {
  const i = argv.indexOf(`--${name}`);
  return i < 0 ? fallback : (argv[i + 1] ?? fallback);
}

/**
 * Unequal executors whose threads fit the cores: where the sessions together want more threads
 * than there are cores, the sum of their capacities measured alone cannot be reached together.
 */
function defaultExecutors(cores: number): string {
  return cores >= 4 ? 'int8-static:1,fp32:2' : 'int8-static:1,fp32:1';
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function realOnnx(log: (l: string) => void, opts: { model: RealModel; executors: RealExecutorSpec[]; secondsPerConfig: number; rounds: number; clients: number }) {
  const m = REAL_MODELS[opts.model];
  const file = cachedVariants(opts.model, log);
  const cpu: Accelerator = { id: 'cpu0', type: 'CPU', memoryMiB: 1024, precisions: ['fp32', 'fp16', 'int8'], tops: {} };
  // Each session in its own worker thread, as the agent runs them; its prior is its second
  // warm-up run, as the agent's is.
  const sessions: LoadedSession[] = [];
  for (const e of opts.executors) sessions.push(await loadSession(new Uint8Array(readFileSync(file(e.variant))), cpu, { threads: e.threads, isolation: 'worker', label: `${e.variant}x${e.threads}` }));
  const served = opts.executors.map(() => 0);
  const executors = sessions.map((s, i) => {
    const inner = sessionExecutor(s, `cpu0/${opts.executors[i]!.variant}x${opts.executors[i]!.threads}`, 'cpu0', m.name, Math.max(0.05, s.steadyMs));
    return { ...inner, run: (items: InferInputs[]) => ((served[i]! += items.length), inner.run(items)) };
  });
  // Rendered text lines, as the variants bench feeds them, in turn.
  const samples = makeSamples(opts.model, m.shape, 16, 2024).map((smp): InferInputs => [{ name: 'x', datatype: 'FP32', shape: [...m.shape], data: new Uint8Array(smp.input.buffer, smp.input.byteOffset, smp.input.byteLength) }]);
  let next = 0;
  const input = () => samples[next++ % samples.length]!;
  const balancer = (execs: typeof executors, policy: Policy, maxBatch: number) =>
    new Balancer<InferInputs, WireTensor[]>({ name: m.name, executors: execs, maxBatch, maxQueueDelayMs: maxBatch > 1 ? 2 : 0, maxQueue: 1024, policy, rowsOf: (t) => t[0]?.shape[0] ?? 1 });
  const configs = [
    ...executors.map((e, i) => ({ name: `alone:${i}`, b: balancer([e], 'least-completion', 1) })),
    { name: 'roundRobin', b: balancer(executors, 'round-robin', 1) },
    { name: 'balanced', b: balancer(executors, 'least-completion', 1) },
    { name: 'batched', b: balancer(executors, 'least-completion', 8) },
  ];
  const at = (name: string) => configs.findIndex((c) => c.name === name);
  const loadBefore = loadavg()[0] ?? 0;
  // The machine is shared: configurations take turns over several rounds, so a burst of outside
  // load lands on all of them, and ratios are taken within a round before their median.
  const perRound: RunResult[][] = configs.map(() => []);
  const shares: number[][] = [];
  const sliceMs = (opts.secondsPerConfig * 1000) / opts.rounds;
  for (const c of configs) await closedLoop(realClock(), null, c.b, input, opts.clients, Number.POSITIVE_INFINITY, Math.min(1000, sliceMs)); // warm-up
  // Busy share of each lane while balanced: near 1 for both means the balancer kept every
  // executor working, and a shortfall against the capacity sum is the executors slowing each
  // other (shared cores, caches, memory bandwidth), not dispatch.
  const busy: number[][] = [];
  // Each executor driven by its own clients at the same time, no balancer between them: what the
  // executors deliver together on this machine, the most any dispatch could reach.
  const concurrent: number[] = [];
  // CPU time of this process (every thread: the sessions' workers and the dispatching main
  // thread) per configuration: cores it got, and CPU ms per request. Requests that cost the
  // same CPU together as alone, on fewer cores than running threads, mean the scheduler's
  // share bounds the figure (Linux's autogroup gives a process group one fair share however
  // many threads it runs), not contention between the sessions nor dispatch.
  const cpuUse: Record<string, { cores: number[]; msPerRequest: number[] }> = {};
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const timed = async (name: string, run: () => Promise<number>) => {
    const c0 = cpuMs();
    const t0 = performance.now();
    const rps = await run();
    const used = cpuMs() - c0;
    const wall = performance.now() - t0;
    const entry = (cpuUse[name] ??= { cores: [], msPerRequest: [] });
    entry.cores.push(used / wall);
    entry.msPerRequest.push(used / Math.max(1, (rps * wall) / 1000));
    return rps;
  };
  for (let r = 0; r < opts.rounds; r++) {
    concurrent.push(
      await timed('sideBySide', async () => {
        const each = await Promise.all(executors.map((_, i) => closedLoop(realClock(), null, configs[at(`alone:${i}`)]!.b, input, Math.max(1, Math.floor(opts.clients / executors.length)), Number.POSITIVE_INFINITY, sliceMs)));
        return each.reduce((sum, x) => sum + x.rps, 0);
      }),
    );
    for (let i = 0; i < configs.length; i++) {
      const c = configs[i]!;
      served.fill(0);
      c.b.takeLoad();
      let run: RunResult | undefined;
      await timed(c.name, async () => (run = await closedLoop(realClock(), null, c.b, input, opts.clients, Number.POSITIVE_INFINITY, sliceMs)).rps);
      perRound[i]!.push(run!);
      if (c.name === 'balanced') {
        shares.push(served.map((n) => n / Math.max(1, served.reduce((a, b) => a + b, 0))));
        busy.push(c.b.takeLoad().map((l) => l.busyMs / Math.max(1, l.intervalMs)));
      }
    }
  }
  await Promise.all(sessions.map((s) => s.release()));
  const loadAfter = loadavg()[0] ?? 0;
  const rps = (name: string, r: number) => perRound[at(name)]![r]!.rps;
  const alone = (r: number) => executors.map((_, i) => rps(`alone:${i}`, r));
  const ratio = (f: (r: number) => number) => median(Array.from({ length: opts.rounds }, (_, r) => f(r)));
  const medianRun = (name: string): RunResult => [...perRound[at(name)]!].sort((a, b) => a.rps - b.rps)[Math.floor(opts.rounds / 2)]!;
  const result = {
    model: `${m.what} (${m.name}), input [${m.shape.join(',')}] fp32, ONNX Runtime CPU, each session in its own worker thread`,
    cores: availableParallelism(),
    clients: opts.clients,
    rounds: opts.rounds,
    secondsPerConfig: opts.secondsPerConfig,
    executors: opts.executors.map((e, i) => {
      const aloneRps = median(Array.from({ length: opts.rounds }, (_, r) => alone(r)[i]!));
      return { variant: e.variant, threads: e.threads, aloneRps, msPerRequestAlone: 1000 / aloneRps, priorMs: sessions[i]!.steadyMs, shareWhenBalanced: median(shares.map((s) => s[i]!)), busyWhenBalanced: median(busy.map((b) => b[i]!)) };
    }),
    bestSingleRps: median(Array.from({ length: opts.rounds }, (_, r) => Math.max(...alone(r)))),
    capacitySumRps: median(Array.from({ length: opts.rounds }, (_, r) => alone(r).reduce((a, b) => a + b, 0))),
    concurrentSumRps: median(concurrent),
    roundRobinRps: medianRun('roundRobin').rps,
    balancedRps: medianRun('balanced').rps,
    balancedP99Ms: medianRun('balanced').p99Ms,
    balancedBatchedRps: medianRun('batched').rps,
    // Medians of the ratios within each round.
    balancedOverCapacitySum: ratio((r) => rps('balanced', r) / alone(r).reduce((a, b) => a + b, 0)),
    balancedOverBestSingle: ratio((r) => rps('balanced', r) / Math.max(...alone(r))),
    balancedOverRoundRobin: ratio((r) => rps('balanced', r) / rps('roundRobin', r)),
    // The balancer against the executors run side by side without it: its own share of any shortfall.
    balancedOverConcurrentSum: ratio((r) => rps('balanced', r) / concurrent[r]!),
    concurrentOverCapacitySum: ratio((r) => concurrent[r]! / alone(r).reduce((a, b) => a + b, 0)),
    batchedOverUnbatched: ratio((r) => rps('batched', r) / rps('balanced', r)),
    failed: perRound.flat().reduce((s, x) => s + x.failed, 0),
    cpu: Object.fromEntries(Object.entries(cpuUse).map(([name, c]) => [name, { cores: Number(median(c.cores).toFixed(2)), msPerRequest: Number(median(c.msPerRequest).toFixed(1)) }])),
    loadAvg1m: { before: loadBefore, after: loadAfter },
  };
  for (const e of result.executors) log(`  (b) ${e.variant}, ${e.threads} thread(s): alone ${e.aloneRps.toFixed(1)} rps (${e.msPerRequestAlone.toFixed(2)} ms/request, prior ${e.priorMs.toFixed(2)} ms); share when balanced ${(e.shareWhenBalanced * 100).toFixed(0)} %, busy ${(e.busyWhenBalanced * 100).toFixed(0)} %`);
  log(`  (b) best single ${result.bestSingleRps.toFixed(1)} rps; sum of capacities ${result.capacitySumRps.toFixed(1)}; round robin ${result.roundRobinRps.toFixed(1)}; balanced ${result.balancedRps.toFixed(1)} (p99 ${result.balancedP99Ms.toFixed(1)} ms); balanced+batched(8) ${result.balancedBatchedRps.toFixed(1)}`);
  log(`  (b) CPU of this process per configuration (median cores, CPU ms per request): ${JSON.stringify(result.cpu)}`);
  log(`  (b) executors side by side without a balancer: ${result.concurrentSumRps.toFixed(1)} rps, ${result.concurrentOverCapacitySum.toFixed(3)} of the capacity sum; balanced/side by side ${result.balancedOverConcurrentSum.toFixed(3)}`);
  log(`  (b) median of per-round ratios: balanced/capacity sum ${result.balancedOverCapacitySum.toFixed(3)}, balanced/best single ${result.balancedOverBestSingle.toFixed(2)}, balanced/round robin ${result.balancedOverRoundRobin.toFixed(2)}, batched/unbatched ${result.batchedOverUnbatched.toFixed(2)}; load average ${loadBefore.toFixed(2)} -> ${loadAfter.toFixed(2)}`);
  return result;
}

/** RSS of a child process that loads the agent's workload side and a manager with nothing assigned. */
async function idleRss(v8Flags: string[] = []): Promise<number> {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const outDir = join(root, 'node_modules', '.cache', 'edgeplane-bench');
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, 'agent-idle.cjs');
  // Bundled as the agent binary is (one CommonJS file, esbuild, not minified); onnxruntime-node
  // stays outside, as its addon does beside the binary. Nothing assigned, so it never loads.
  await esbuild({
    stdin: {
      contents: `
        const { tmpdir } = require('node:os');
        const { join } = require('node:path');
        require('@nats-io/transport-node');
        const { createWorkloadManager } = require('./agent/src/workloads/manager.ts');
        const { listenHttp } = require('./agent/src/serve/http.ts');
        (async () => {
          const m = await createWorkloadManager({ accelerators: [{ id: 'cpu0', type: 'CPU', memoryMiB: 1024, precisions: ['fp32'], tops: {} }], cacheDir: join(tmpdir(), 'ep-idle-cache'), cacheMaxBytes: 1e8 });
          await m.apply({ v: 1, node: 'idle', workloads: [], issuedAtMs: Date.now() });
          const http = await listenHttp({ registry: m, host: '127.0.0.1', port: 0 });
          await new Promise((r) => setTimeout(r, 1500));
          globalThis.gc?.();
          await new Promise((r) => setTimeout(r, 200));
          process.stdout.write(JSON.stringify({ rss: process.memoryUsage().rss }) + '\\n');
          await http.close();
          await m.close();
        })();
      `,
      resolveDir: root,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    external: ['onnxruntime-node'],
    outfile,
    logLevel: 'error',
  });
  const child = spawnSync(process.execPath, ['--expose-gc', ...v8Flags, outfile], { encoding: 'utf8', timeout: 60_000 });
  if (child.status !== 0) throw new Error(`idle agent failed: ${child.stderr}`);
  const line = child.stdout.trim().split('\n').pop() ?? '';
  return (JSON.parse(line) as { rss: number }).rss / 2 ** 20;
}

const bench: Bench = async ({ argv, log }) => {
  const simTotal = numberFlag(argv, 'sim-requests', 20_000);
  const model = stringFlag(argv, 'real-model', 'rec');
  if (!(model in REAL_MODELS)) throw new Error(`--real-model: ${model} is not one of ${Object.keys(REAL_MODELS).join(', ')}`);
  const real = {
    model: model as RealModel,
    executors: parseExecutors(stringFlag(argv, 'real-executors', defaultExecutors(availableParallelism()))),
    secondsPerConfig: numberFlag(argv, 'real-seconds', 20),
    rounds: numberFlag(argv, 'real-rounds', 5),
    clients: numberFlag(argv, 'real-clients', 8),
  };
  // The shipped binary's idle footprint first, before the sessions below load the machine.
  log('(c) the shipped binary idle, connected to a secure nats-server, nothing assigned');
  const connected = await measureBinaryIdleRss({ idleSeconds: numberFlag(argv, 'rss-idle-seconds', 30), samples: 5, log });
  log(`  VmRSS ${connected.rssMiB.toFixed(1)} MiB (anonymous ${connected.anonMiB.toFixed(1)}, the executable's own pages ${(connected.rssMiB - connected.anonMiB).toFixed(1)}), peak ${connected.peakMiB.toFixed(1)}; load average ${loadavg()[0]!.toFixed(2)}`);
  log(`  by mapping (MiB): ${JSON.stringify(connected.smapsMiB)}`);
  const plainNode = await measurePlainNodeRss(10);
  log(`  plain node with an empty timer, same executable version: VmRSS ${plainNode.rssMiB.toFixed(1)} MiB (anonymous ${plainNode.anonMiB.toFixed(1)}); by mapping ${JSON.stringify(plainNode.smapsMiB)}`);
  const rssConnected = {
    rssIdleConnectedMiB: Math.round(connected.rssMiB * 100) / 100,
    rssIdleConnected: { ...connected, plainNode: { ...plainNode, what: 'node --max-semi-space-size=1 -e "setInterval(() => {}, 1000)" after 10 s, the floor under any Node agent' }, what: 'dist/edgeplane-agent (make agent-binary) on the x86-vnni-server fixture, own node credential, TLS nats-server, hello answered, empty assignment; VmRSS median of samples 1 s apart', loadAvg1m: loadavg()[0], goalMiB: 70 },
  };
  if (argv.includes('--rss-only')) return { bench: 'agent', ...rssConnected };
  log('(a) simulated heterogeneous executors on a discrete-event clock');
  const a = await simulated(log, simTotal);
  log(`(b) real ONNX Runtime CPU sessions on this machine: ${real.executors.map((e) => `${e.variant} x${e.threads} thread(s)`).join(', ')}`);
  const b = await realOnnx(log, real);
  const rssIdleMiB = await idleRss();
  // A 1 MiB young generation (V8's default is 16 MiB per semi-space) suits an idle edge agent.
  const rssIdleSmallYoungMiB = await idleRss(['--max-semi-space-size=1']);
  log(`  idle agent RSS ${rssIdleMiB.toFixed(1)} MiB with default V8 flags, ${rssIdleSmallYoungMiB.toFixed(1)} MiB with --max-semi-space-size=1`);
  const r2 = (n: number) => Math.round(n * 100) / 100;
  const r3 = (n: number) => Math.round(n * 1000) / 1000;
  return {
    bench: 'agent',
    simulated: {
      what: 'sleep-based executors on a discrete-event clock, service times from datasheets; exact priors, no variance',
      executors: SIMULATED.map((d) => ({ id: d.id, kind: d.kind, msPerImage: r2(d.t1Ms), aloneRps: r2(a.singles[d.id]!.rps) })),
      bestSingle: { id: a.bestId, rps: r2(a.best.rps) },
      roundRobinRps: r2(a.roundRobin.rps),
      balancedRps: r2(a.balanced.rps),
      sumOfCapacitiesRps: r2(a.sumOfCapacities),
      balancedBatchedRps: r2(a.batched.rps),
      openLoopAt70: { rps: r2(a.at70.rps), p50Ms: r2(a.at70.p50Ms), p99Ms: r2(a.at70.p99Ms) },
      balancedOverBestSingle: r2(a.balanced.rps / a.best.rps),
      balancedOverRoundRobin: r2(a.balanced.rps / a.roundRobin.rps),
      batchedOverUnbatched: r2(a.batched.rps / a.balanced.rps),
      p99Ms: r2(a.at70.p99Ms),
    },
    real: {
      ...b,
      executors: b.executors.map((e) => ({ ...e, aloneRps: r2(e.aloneRps), msPerRequestAlone: r3(e.msPerRequestAlone), priorMs: r3(e.priorMs), shareWhenBalanced: r3(e.shareWhenBalanced), busyWhenBalanced: r3(e.busyWhenBalanced) })),
      bestSingleRps: r2(b.bestSingleRps),
      capacitySumRps: r2(b.capacitySumRps),
      roundRobinRps: r2(b.roundRobinRps),
      balancedRps: r2(b.balancedRps),
      balancedP99Ms: r2(b.balancedP99Ms),
      balancedBatchedRps: r2(b.balancedBatchedRps),
      balancedOverCapacitySum: r3(b.balancedOverCapacitySum),
      balancedOverBestSingle: r2(b.balancedOverBestSingle),
      balancedOverRoundRobin: r2(b.balancedOverRoundRobin),
      concurrentSumRps: r2(b.concurrentSumRps),
      balancedOverConcurrentSum: r3(b.balancedOverConcurrentSum),
      concurrentOverCapacitySum: r3(b.concurrentOverCapacitySum),
      batchedOverUnbatched: r2(b.batchedOverUnbatched),
      loadAvg1m: { before: r2(b.loadAvg1m.before), after: r2(b.loadAvg1m.after) },
      goal: { balancedOverCapacitySum: 0.9 },
    },
    rssIdleMiB: r2(rssIdleMiB),
    rssIdleMaxSemiSpace1MiB: r2(rssIdleSmallYoungMiB),
    ...rssConnected,
  };
};

export default bench;

// `edgeplane simulate`: runs a simulated fleet against a control plane until --duration ends
// or the process is interrupted, printing progress every few seconds.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { redactUrl } from '@edgeplane/api';
import { SimulateError, isSimulateError } from './errors.ts';
import { parseMix } from './mix.ts';
import { DEFAULT_MIX, PROFILES, PROFILE_NAMES } from './profiles.ts';
import { startSimulation, type SimulationStats } from './simulation.ts';
import { parseTimeline } from './timeline.ts';
import type { CommandGroup, CommandIO } from '../command.ts';

export const SIMULATE_USAGE = `usage: edgeplane simulate --nodes N [flags]

A load tool, not a node: it speaks for every simulated node over a few shared connections,
so it needs an administrator's NATS credentials (a node's credential may publish only its own
subjects). Never give it to a production fleet's bus.

  --nodes N              simulated agents (required)
  --mix MIX              profile mix, e.g. ${DEFAULT_MIX}
  --nats-url URL         NATS server [nats://127.0.0.1:4222]
  --nats-creds FILE      NATS credentials (an administrator's)
  --nats-ca FILE         CA (PEM) of a tls:// server [the system CAs]
  --duration S           stop after S seconds; default: run until interrupted
  --timeline FILE        scripted battery, link and silence events (YAML)
  --connections K        shared NATS connections [one per 500 nodes]
  --prefix NAME          node name prefix [sim]
  --seed N               fleet randomness [1]
  --time-scale X         download and load times times X [0.02]
  --ramp-ms MS           spread first hellos over MS milliseconds [0]
  --interval S           progress line every S seconds [5]
  --json                 print the final counters as one JSON line
  --log-level LEVEL      pino level for per-node logs [warn]

profiles: ${PROFILE_NAMES.map((p) => `${p} (${PROFILES[p].description})`).join('; ')}`;

const defaultIo: CommandIO = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

function numberOf(flags: Record<string, unknown>, name: string, fallback: number | undefined, min: number): number | undefined {
  const raw = flags[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) throw new SimulateError('BAD_FLAG', `--${name} must be a number >= ${min}, got ${String(raw)}`);
  return value;
}

async function readTimelineFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    throw new SimulateError('BAD_TIMELINE', `cannot read the timeline ${path}: ${(cause as Error).message}`, { cause });
  }
}

/** Progress in one line: what a person watching a run wants to see. */
export function progressLine(elapsedSec: number, s: SimulationStats, bytesSince: number, windowSec: number): string {
  const bitsPerNode = s.accepted > 0 && windowSec > 0 ? (bytesSince * 8) / s.accepted / windowSec : 0;
  return `t=${elapsedSec.toFixed(0)}s nodes=${s.nodes} accepted=${s.accepted} heartbeats=${s.heartbeats} heartbeat-bits/node/s=${bitsPerNode.toFixed(1)} assignments=${s.assignmentsReceived} ready-workloads=${s.readyWorkloads} hello-retries=${s.helloFailures}`;
}

export async function runSimulate(argv: readonly string[], io: CommandIO = defaultIo): Promise<number> {
  const out = (line: string) => io.out(`${line}\n`);
  const err = (line: string) => io.err(`${line}\n`);
  let flags: Record<string, string | boolean | undefined>;
  try {
    flags = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        nodes: { type: 'string' },
        mix: { type: 'string' },
        'nats-url': { type: 'string' },
        'nats-creds': { type: 'string' },
        'nats-ca': { type: 'string' },
        duration: { type: 'string' },
        timeline: { type: 'string' },
        connections: { type: 'string' },
        prefix: { type: 'string' },
        seed: { type: 'string' },
        'time-scale': { type: 'string' },
        'ramp-ms': { type: 'string' },
        interval: { type: 'string' },
        json: { type: 'boolean' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (cause) {
    err(`${(cause as Error).message}\n\n${SIMULATE_USAGE}`);
    return 2;
  }
  if (flags.help) {
    out(SIMULATE_USAGE);
    return 0;
  }

  try {
    const nodes = numberOf(flags, 'nodes', undefined, 1);
    if (nodes === undefined || !Number.isInteger(nodes)) throw new SimulateError('BAD_FLAG', '--nodes needs a whole number of nodes');
    const mix = parseMix(typeof flags.mix === 'string' ? flags.mix : DEFAULT_MIX);
    const timelinePath = typeof flags.timeline === 'string' ? flags.timeline : undefined;
    const timeline = timelinePath ? parseTimeline(await readTimelineFile(timelinePath), timelinePath) : undefined;
    const duration = numberOf(flags, 'duration', undefined, 0);
    const intervalSec = numberOf(flags, 'interval', 5, 0.1)!;
    const timeScale = numberOf(flags, 'time-scale', undefined, 0);
    const connections = numberOf(flags, 'connections', undefined, 1);
    const rampMs = numberOf(flags, 'ramp-ms', undefined, 0);
    const seed = numberOf(flags, 'seed', undefined, 0);
    const natsUrl = typeof flags['nats-url'] === 'string' ? flags['nats-url'] : 'nats://127.0.0.1:4222';
    const level = typeof flags['log-level'] === 'string' ? flags['log-level'] : 'warn';

    const sim = await startSimulation({
      natsUrl,
      natsCreds: typeof flags['nats-creds'] === 'string' ? flags['nats-creds'] : undefined,
      natsCa: typeof flags['nats-ca'] === 'string' ? flags['nats-ca'] : undefined,
      nodes,
      mix,
      ...(timeline ? { timeline } : {}),
      ...(connections !== undefined ? { connections } : {}),
      ...(typeof flags.prefix === 'string' ? { namePrefix: flags.prefix } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(timeScale !== undefined ? { timing: { timeScale } } : {}),
      ...(rampMs !== undefined ? { rampMs } : {}),
      log: pino({ level }, pino.destination(2)),
    });
    err(`simulating ${nodes} nodes (${mix.map((m) => `${m.profile} ${(m.share * 100).toFixed(0)}%`).join(', ')}) against ${redactUrl(natsUrl)}`);

    const started = Date.now();
    let lastBytes = 0;
    let lastAt = started;
    const progress = setInterval(() => {
      const s = sim.stats();
      const now = Date.now();
      err(progressLine((now - started) / 1000, s, s.heartbeatFrameBytes - lastBytes, (now - lastAt) / 1000));
      lastBytes = s.heartbeatFrameBytes;
      lastAt = now;
    }, intervalSec * 1000);

    await new Promise<void>((resolve) => {
      const done = () => resolve();
      if (duration !== undefined) setTimeout(done, duration * 1000).unref();
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
    });
    clearInterval(progress);
    const final = sim.stats();
    await sim.stop();
    const seconds = (Date.now() - started) / 1000;
    const summary = { ...final, seconds: Number(seconds.toFixed(1)) };
    if (flags.json) out(JSON.stringify(summary));
    else out(progressLine(seconds, final, final.heartbeatFrameBytes, seconds));
    return 0;
  } catch (cause) {
    if (isSimulateError(cause)) {
      err(`edgeplane simulate: ${cause.message}`);
      return 2;
    }
    throw cause;
  }
}

/** The `simulate` group of the edgeplane command. */
export const simulateCommands: CommandGroup = {
  name: 'simulate',
  summary: 'run N simulated agents against a control plane (fleet scale on one machine)',
  run: (argv, io) => runSimulate(argv, io),
};

// The shipped agent binary's idle footprint: dist/edgeplane-agent (built by `make agent-binary`
// when a source is newer) runs on a fixture root with its own node credential against a real
// nats-server (JWT auth and TLS, JetStream); a responder answers hello and the link probe as the
// control plane does, and the node's assignment in `ep-assignments` holds no workloads. After
// the agent said hello and sat idle, its `VmRSS` (from /proc/<pid>/status) is sampled.
import { spawn } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { stores, subjects } from '@edgeplane/api';
import { AGENT_BINARY, ensureAgentBinary, freePort, startNats } from '@edgeplane/env';
import { agentNats, agentProcessEnv } from '@edgeplane/env';
import { controlPlaneResponder, tempDir, until } from '@edgeplane/env';

export interface BinaryRss {
  /** Median of the samples, MiB. */
  rssMiB: number;
  samplesMiB: number[];
  /** Of rssMiB, anonymous memory (heap, stacks, malloc), MiB; the rest is the executable's pages read from disk. */
  anonMiB: number;
  /** Largest VmRSS the process reached (VmHWM), MiB. */
  peakMiB: number;
  idleSeconds: number;
  heartbeatIntervalMs: number;
  /** Heartbeats the node sent while sampled: it was connected and talking. */
  heartbeats: number;
  /** Resident MiB by mapping at the last sample (/proc/<pid>/smaps): what bounds the figure. */
  smapsMiB: SmapsBreakdown;
}

/**
 * Resident memory grouped the way it can be acted on: the executable's code (`r-xp`), its
 * read-only data and the SEA blob (`r--p`), its writable data; shared libraries; malloc's
 * `[heap]`; other anonymous mappings (V8's heap pages, thread stacks, mmap'd malloc arenas).
 */
export interface SmapsBreakdown {
  executableText: number;
  executableReadOnly: number;
  executableData: number;
  sharedLibraries: number;
  mallocHeap: number;
  otherAnonymous: number;
  other: number;
}

/** Pure: sums `Rss:` per mapping class of an smaps text. */
export function smapsBreakdown(smaps: string, executable: string): SmapsBreakdown {
  const out: SmapsBreakdown = { executableText: 0, executableReadOnly: 0, executableData: 0, sharedLibraries: 0, mallocHeap: 0, otherAnonymous: 0, other: 0 };
  let key: keyof SmapsBreakdown = 'other';
  for (const line of smaps.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ (\S{4}) \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      const [, perms, path] = head as unknown as [string, string, string];
      if (path === executable) key = perms.includes('x') ? 'executableText' : perms.includes('w') ? 'executableData' : 'executableReadOnly';
      else if (path === '[heap]') key = 'mallocHeap';
      else if (path === '' || path === '[stack]' || path.startsWith('[anon')) key = 'otherAnonymous';
      else if (/\.so(\.|$)/.test(path)) key = 'sharedLibraries';
      else key = 'other';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) out[key] += Number(rss[1]) / 1024;
  }
  for (const k of Object.keys(out) as (keyof SmapsBreakdown)[]) out[k] = Number(out[k].toFixed(1));
  return out;
}

const statusMiB = (pid: number, field: 'VmRSS' | 'VmHWM'): number => {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`/proc/${pid}/status has no ${field}`);
  return Number(m[1]) / 1024;
};

export interface MeasureOptions {
  idleSeconds: number;
  samples: number;
  heartbeatIntervalMs?: number;
  /** Another way to start the agent (a bundle under plain node, other V8 flags); the shipped binary by default. */
  command?: readonly string[];
  /** Extra environment for the agent (MALLOC_ARENA_MAX, NODE_OPTIONS). */
  env?: Readonly<Record<string, string>>;
  log: (line: string) => void;
}

export async function measureBinaryIdleRss(opts: MeasureOptions): Promise<BinaryRss> {
  const heartbeatIntervalMs = opts.heartbeatIntervalMs ?? 5000;
  const [file, ...args] = opts.command ?? [AGENT_BINARY];
  if (!opts.command) await ensureAgentBinary(opts.log);
  const nats = await startNats();
  const cp = await connect(await nats.connectOptions('control-plane'));
  const dir = await tempDir('ep-agent-rss-');
  const node = 'edge-rss-1';
  const child = spawn(file!, args, {
    env: agentProcessEnv({
      node,
      nats: await agentNats(nats, node),
      fixture: 'x86-vnni-server',
      dir: dir.path,
      httpAddr: `127.0.0.1:${await freePort()}`,
      grpcAddr: `127.0.0.1:${await freePort()}`,
      logLevel: 'info',
      extra: opts.env,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  child.stderr.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  try {
    // The control plane's side: the assignments bucket with this node's empty assignment.
    const kv = await new Kvm(cp).create(stores.assignments, { history: 1 });
    await kv.put(node, JSON.stringify({ v: 1, node, workloads: [], issuedAtMs: Date.now() }));
    const responder = controlPlaneResponder(cp, { heartbeatIntervalMs, fullEvery: 60, assignmentsBucket: stores.assignments });
    let heartbeats = 0;
    const hb = cp.subscribe(subjects.status(node), { callback: () => void heartbeats++ });
    await until(() => responder.hellos.find((h) => h.node === node), 'hello from the binary', 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${output}`);
    });
    opts.log(`  binary said hello; idle for ${opts.idleSeconds} s, then ${opts.samples} VmRSS samples 1 s apart`);
    await new Promise((r) => setTimeout(r, opts.idleSeconds * 1000));
    const before = heartbeats;
    const samplesMiB: number[] = [];
    const anon: number[] = [];
    for (let i = 0; i < opts.samples; i++) {
      if (child.exitCode !== null) throw new Error(`the agent exited (${child.exitCode})\n${output}`);
      samplesMiB.push(statusMiB(child.pid!, 'VmRSS'));
      anon.push(Number(/^Anonymous:\s+(\d+) kB/m.exec(readFileSync(`/proc/${child.pid}/smaps_rollup`, 'utf8'))?.[1] ?? NaN) / 1024);
      await new Promise((r) => setTimeout(r, 1000));
    }
    const peakMiB = statusMiB(child.pid!, 'VmHWM');
    const smapsMiB = smapsBreakdown(readFileSync(`/proc/${child.pid}/smaps`, 'utf8'), readlinkSync(`/proc/${child.pid}/exe`));
    hb.unsubscribe();
    responder.stop();
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    return { rssMiB: median(samplesMiB), anonMiB: median(anon), samplesMiB, peakMiB, idleSeconds: opts.idleSeconds, heartbeatIntervalMs, heartbeats: heartbeats - before, smapsMiB };
  } finally {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await cp.close();
    await nats.stop();
    await dir.remove();
  }
}

/**
 * The floor under any Node agent: this Node executable (the version the binary is made from)
 * running an empty timer, sampled the same way, with the same breakdown.
 */
export async function measurePlainNodeRss(idleSeconds: number): Promise<{ rssMiB: number; anonMiB: number; smapsMiB: SmapsBreakdown }> {
  const child = spawn(process.execPath, ['--max-semi-space-size=1', '-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    if (child.exitCode !== null) throw new Error(`plain node exited (${child.exitCode})`);
    const anonMiB = Number(/^Anonymous:\s+(\d+) kB/m.exec(readFileSync(`/proc/${child.pid}/smaps_rollup`, 'utf8'))?.[1] ?? NaN) / 1024;
    return { rssMiB: statusMiB(child.pid!, 'VmRSS'), anonMiB, smapsMiB: smapsBreakdown(readFileSync(`/proc/${child.pid}/smaps`, 'utf8'), readlinkSync(`/proc/${child.pid}/exe`)) };
  } finally {
    child.kill('SIGKILL');
  }
}

// `npx tsx bench/agent-rss.ts [idleSeconds]`: this figure alone, without the rest of `bench agent`.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const idleSeconds = Number(process.argv[2] ?? 20);
  measureBinaryIdleRss({ idleSeconds, samples: 5, log: (l) => process.stderr.write(`${l}\n`) }).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack}\n`);
      process.exit(1);
    },
  );
}

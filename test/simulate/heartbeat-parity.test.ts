// The agent's heartbeat publisher (its fleet session) and a simulated node, each against a
// real nats-server and driven by the same timeline (an assignment whose workload downloads,
// then loads and goes Ready while the node's connection is down, as when a renewed credential
// makes the agent reconnect; a battery crossing a tiering threshold, a change within a class,
// a link changing class, a dip that comes back between two reads), send the same heartbeats:
// same kind (full or delta, early or regular, and why), same sections, same content.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { pino } from 'pino';
import { Heartbeat, Hello, HelloReply, decode, encode, nodeFromSubject, stores, subjects, type Assignment, type EarlyReason, type Network, type Power } from '@edgeplane/api';
import { startNats, type NatsServer } from '@edgeplane/env';
import { startFleetSession, type FleetSession } from '../../agent/src/fleet/session.ts';
import { SimulatedExecutors } from '../../cli/src/simulate/executors.ts';
import { PROFILES, startSimulation, type Simulation } from '../../cli/src/simulate/index.ts';
import { defaultPhaseTiming } from '../../cli/src/simulate/phases.ts';

const INTERVAL_MS = 2000;
const POLL_MS = 400;
const profile = PROFILES['rpi-battery'];
const accelerator = profile.accelerators[0]!.id;
const timing = { ...defaultPhaseTiming, timeScale: 1 };

const wifi: Network = { type: 'wifi', bandwidthMbps: 40, rttMs: 20 };
const lte: Network = { type: 'cellular-4g', bandwidthMbps: 12, rttMs: 45, metered: true };
const battery = (batteryPercent: number): Power => ({ source: 'battery', batteryPercent, charging: false });

/**
 * Times are ms after the node's first heartbeat. Polls read power and link at multiples of
 * 400 ms, regular heartbeats go at multiples of 2000 ms; every change sits well between them.
 */
type Step = { atMs: number; assign: true } | { atMs: number; power: Power } | { atMs: number; network: Network } | { atMs: number; connected: boolean };
/** The connection is down from 6500 ms until it is back at this time. */
const RECONNECT_AT_MS = 7300;
const TIMELINE: Step[] = [
  // Downloading at once; Loading after 30 MB over 40 Mbit/s (6020 ms) and Ready 300 ms later,
  // both while the connection is down (as when a renewed credential makes the agent
  // reconnect). Back, the node sends them at once, then says hello again (a full heartbeat).
  { atMs: 700, assign: true },
  { atMs: 2550, power: battery(45) }, // below fp16BelowPercent 50: read at 2800, sent early
  { atMs: 3400, power: battery(43) }, // same class: waits for the regular heartbeat at 4000
  { atMs: 4600, network: lte }, // link class changes: read at 4800, sent early
  { atMs: 5300, power: battery(15) }, // below int8BelowPercent, and back before the read at 5600
  { atMs: 5450, power: battery(43) },
  { atMs: 6500, connected: false },
  { atMs: RECONNECT_AT_MS, connected: true },
];
const END_MS = 7800;

function assignment(node: string): Assignment {
  return {
    v: 1,
    node,
    issuedAtMs: Date.now(),
    workloads: [
      {
        key: 'fleet/det',
        namespace: 'fleet',
        deployment: 'det',
        model: 'ppocr-det',
        task: 'text-detection',
        variant: { name: 'det-int8', precision: 'int8', profile: 'full', uri: 'nats-obj://ep-models/det-int8', sha256: 'd'.repeat(64), sizeBytes: 30_000_000, memoryMiB: 64 },
        accelerator,
        maxBatch: 1,
        maxQueueDelayMs: 0,
        latencySloMs: 200,
      },
    ],
  };
}

interface Sent {
  hb: Heartbeat;
  atMs: number;
  early: EarlyReason[] | null;
}

/** What matters of a heartbeat: its kind and what the control plane acts on. */
function essence(s: Sent) {
  const hb = s.hb;
  return {
    seq: hb.seq,
    full: hb.full === true,
    early: s.early,
    sections: (['power', 'network', 'load', 'workloads', 'cachedArtifacts'] as const).filter((k) => hb[k] !== undefined),
    power: hb.power,
    network: hb.network && { type: hb.network.type, metered: hb.network.metered },
    workloads: hb.workloads?.map((w) => ({ key: w.key, variant: w.variant, phase: w.phase })),
  };
}

/** Runs the steps at their times after `t0`; resolves at END_MS. */
async function play(t0: number, apply: (step: Step) => void | Promise<void>): Promise<void> {
  for (const step of TIMELINE) {
    const wait = t0 + step.atMs - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await apply(step);
  }
  const rest = t0 + END_MS - performance.now();
  if (rest > 0) await new Promise((r) => setTimeout(r, rest));
}

describe('heartbeat parity: agent session and simulated node', () => {
  let nats: NatsServer;
  let cp: NatsConnection;
  let kv: KV;
  const onWire = new Map<string, Heartbeat[]>();

  beforeAll(async () => {
    nats = await startNats();
    // The test plays the control plane: hello replies, the assignment bucket, the status subjects.
    cp = await connect(await nats.connectOptions('control-plane'));
    kv = await new Kvm(cp).create(stores.assignments, { history: 1 });
    cp.subscribe(subjects.allHello, {
      callback: (_err, msg) => {
        if (!decode(Hello, 'hello', msg.data).ok) return;
        msg.respond(encode(HelloReply, 'hello reply', { v: 1, accepted: true, heartbeatIntervalMs: INTERVAL_MS, fullEvery: 12 }));
      },
    });
    cp.subscribe(subjects.allStatus, {
      callback: (_err, msg) => {
        const d = decode(Heartbeat, 'heartbeat', msg.data);
        const node = nodeFromSubject(msg.subject);
        if (d.ok && node) onWire.set(node, [...(onWire.get(node) ?? []), d.value]);
      },
    });
  });

  afterAll(async () => {
    await cp?.close();
    await nats?.stop();
  });

  /** The agent's fleet session with a scripted power, link and the simulated executors' workloads. */
  async function runAgent(node: string): Promise<Sent[]> {
    // A forced reconnect (what a credential renewal does) that dials again at a set time.
    let reconnectAt = 0;
    const nc = await connect({
      ...(await nats.connectOptions({ node })),
      name: node,
      maxReconnectAttempts: -1,
      reconnectDelayHandler: () => 0,
      reconnectToServer: (pool) => ({ server: pool[0]!, delay: Math.max(0, reconnectAt - Date.now()) }),
    });
    const sent: Sent[] = [];
    let power = battery(80);
    let network = wifi;
    let session: FleetSession | null = null;
    const executors = new SimulatedExecutors({ accelerators: profile.accelerators, efficiency: 0.3, timing, network: () => network, onChange: () => session?.nudge() });
    let first: (t: number) => void = () => undefined;
    const started = new Promise<number>((r) => (first = r));
    session = startFleetSession({
      nc,
      node,
      log: pino({ level: 'silent' }),
      hello: async () => ({ v: 1, node, agentVersion: 'parity', bootId: 'b', host: profile.host, accelerators: [...profile.accelerators], power, network, cachedArtifacts: [], labels: {} }),
      telemetry: async () => ({ power, network, load: executors.load(), workloads: executors.reports(), cachedArtifacts: executors.cachedArtifacts() }),
      conditions: async () => ({ power, network }),
      workloads: () => executors.reports(),
      conditionsPollMs: POLL_MS,
      onAssignment: async (a) => executors.apply(a),
      onHeartbeat: (hb, early) => {
        const at = performance.now();
        if (sent.length === 0) first(at);
        sent.push({ hb, atMs: at, early });
      },
    });
    try {
      const t0 = await started;
      reconnectAt = Date.now() - (performance.now() - t0) + RECONNECT_AT_MS;
      await play(t0, async (step) => {
        if ('assign' in step) await kv.put(node, JSON.stringify(assignment(node)));
        else if ('power' in step) power = step.power;
        else if ('network' in step) network = step.network;
        else if (!step.connected) await nc.reconnect();
        // Back by itself at RECONNECT_AT_MS.
      });
      return sent.map((s) => ({ ...s, atMs: s.atMs - t0 }));
    } finally {
      await session.close();
      executors.stop();
      await nc.close();
    }
  }

  /** One simulated node (the simulator's own connection, watch and timers) with the same steps. */
  async function runSimulated(prefix: string): Promise<Sent[]> {
    const sim: Simulation = await startSimulation({
      natsUrl: nats.url,
      natsCreds: await nats.credsFile('admin'),
      natsCa: nats.caFile ?? undefined,
      nodes: 1,
      mix: 'rpi-battery:1',
      namePrefix: prefix,
      timing,
      conditionsPollMs: POLL_MS,
    });
    const node = sim.nodes[0]!.name;
    const sent: Sent[] = [];
    let first: (t: number) => void = () => undefined;
    const started = new Promise<number>((r) => (first = r));
    sim.onHeartbeat((e) => {
      const at = performance.now();
      if (sent.length === 0) first(at);
      sent.push({ hb: e.heartbeat, atMs: at, early: e.early });
    });
    try {
      // Before hello, so the first heartbeat already carries these.
      sim.setPower(node, battery(80));
      sim.setLink(node, wifi);
      const t0 = await started;
      await play(t0, async (step) => {
        if ('assign' in step) await kv.put(node, JSON.stringify(assignment(node)));
        else if ('power' in step) sim.setPower(node, step.power);
        else if ('network' in step) sim.setLink(node, step.network);
        else sim.setConnected(node, step.connected);
      });
      return sent.map((s) => ({ ...s, atMs: s.atMs - t0 }));
    } finally {
      await sim.stop();
    }
  }

  it('sends the same heartbeats for the same timeline', { timeout: 40_000 }, async () => {
    const [agent, simulated] = await Promise.all([runAgent('parity-agent'), runSimulated('parity-sim')]);
    const a = agent.map(essence);
    const s = simulated.map(essence);
    const timesOf = (xs: Sent[]) => xs.map((x) => `${Math.round(x.atMs)}${x.early ? `:${x.early.join('+')}` : ''}`).join(' ');
    expect(a, `agent ${timesOf(agent)}\nsimulated ${timesOf(simulated)}`).toEqual(s);

    // And the shape the policy promises: every change reported early, nothing else.
    expect(a.map((x) => (x.early ? x.early.join('+') : x.full ? 'full' : 'regular'))).toEqual([
      'full',
      'workload', // Downloading
      'regular',
      'battery',
      'regular',
      'link',
      'regular',
      'workload', // Ready (Loading too came and went while the connection was down), once back
      'full', // hello again after the reconnect
    ]);
    expect(a.filter((x) => x.workloads?.length).map((x) => x.workloads![0]!.phase)).toEqual(['Downloading', 'Ready', 'Ready']);
    expect(a[3]!.power).toEqual(battery(45));
    expect(a[4]!.power).toEqual(battery(43));
    expect(a[5]!.network).toEqual({ type: 'cellular-4g', metered: true });
    // Early ones go out within a poll period plus the coalescing window of the change, and a
    // change made while disconnected as soon as the connection is back, before the hello.
    const earlyAt = agent.filter((x) => x.early).map((x) => Math.round(x.atMs));
    expect(earlyAt[1]).toBeGreaterThanOrEqual(2550);
    expect(earlyAt[1]).toBeLessThan(2550 + POLL_MS + 150);
    // (How soon after it is back depends on the reconnect's own handshake; the order is above.)
    expect(earlyAt[3]).toBeGreaterThanOrEqual(RECONNECT_AT_MS);

    // What the control plane received is what each side says it sent.
    expect(onWire.get('parity-agent')?.map((h) => h.seq)).toEqual(agent.map((x) => x.hb.seq));
    expect(onWire.get('parity-sim-00001')?.map((h) => h.seq)).toEqual(simulated.map((x) => x.hb.seq));
  });
});

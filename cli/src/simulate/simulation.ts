// startSimulation: N simulated agents over a few shared NATS connections, their assignments
// from one KV watch, and the scripted timeline. Usable in-process by benchmarks and tests.
import { Assignment, NodeCommand, PROTOCOL_VERSION, decode, nodeFromSubject, stores, subjects, type EarlyReason, type Heartbeat, type HelloReply, type Network, type Power } from '@edgeplane/api';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV, type KvWatchEntry } from '@nats-io/kv';
import { pino, type Logger } from 'pino';
import { SimulateError } from './errors.ts';
import { natsSecurity, NatsAccessError } from '../nats-access.ts';
import { concurrencyGate } from './limit.ts';
import { assignProfiles, parseMix, type MixEntry } from './mix.ts';
import { newCounters, SimulatedNode, type SimulationCounters } from './node.ts';
import { defaultPhaseTiming, type PhaseTimingOptions } from './phases.ts';
import { DEFAULT_MIX, PROFILES, type ProfileName } from './profiles.ts';
import { seededRandom } from '../random.ts';
import { conditionsAt, resolveTimeline, type Timeline, type TimelineEvent } from './timeline.ts';

export interface SimulationOptions {
  natsUrl: string;
  /**
   * Credentials file. The simulator speaks for many nodes over a few connections, so it needs
   * a user that may publish every node's subjects (an administrator's), never a node's.
   */
  natsCreds?: string | undefined;
  /** CA (PEM file) of the server's certificate; default: the system's CAs. */
  natsCa?: string | undefined;
  nodes: number;
  /** `profile:weight,...` or parsed entries; default DEFAULT_MIX. */
  mix?: string | readonly MixEntry[];
  /** Shared NATS connections; default one per 500 nodes. */
  connections?: number;
  /** Node names are `<prefix>-00001`...; default `sim`. */
  namePrefix?: string;
  /** Labels every node proposes besides its site and profile, e.g. to tell one run's fleet apart. */
  labels?: Readonly<Record<string, string>>;
  /** Values of the `topology.edgeplane.io/site` label, spread round robin; default 20. */
  sites?: number;
  seed?: number;
  timeline?: Timeline;
  timing?: Partial<PhaseTimingOptions>;
  /** Early heartbeats as the agent sends them (workload changes, battery and link crossings); default true. */
  reportChanges?: boolean;
  /** How often a node reads power and link for crossings, ms; default the agent's. */
  conditionsPollMs?: number;
  /** Hello requests in flight at once over the whole fleet; default 256. */
  helloConcurrency?: number;
  helloTimeoutMs?: number;
  /** Spread the nodes' first hellos over this long, ms; default 0. */
  rampMs?: number;
  /** How often the timeline is applied, ms; default 1000. */
  timelineTickMs?: number;
  log?: Logger;
}

export interface SimulatedNodeInfo {
  name: string;
  profile: ProfileName;
  labels: Readonly<Record<string, string>>;
}

export interface AssignmentEvent {
  node: string;
  revision: number;
  assignment: Assignment;
  /** When the simulated agent received it, ms since the epoch. */
  receivedAtMs: number;
}

export interface HeartbeatEvent {
  node: string;
  heartbeat: Heartbeat;
  /** When it was published, ms since the epoch. */
  atMs: number;
  /** What an early heartbeat reported; null for a regular one. */
  early: EarlyReason[] | null;
}

export interface SimulationStats extends SimulationCounters {
  nodes: number;
  accepted: number;
  assignmentsReceived: number;
  malformedAssignments: number;
  /** Workloads that simulated executors report Ready, over the fleet. */
  readyWorkloads: number;
}

export interface Simulation {
  readonly nodes: readonly SimulatedNodeInfo[];
  /** Nodes whose hello has been accepted. */
  accepted(): number;
  /** Resolves once every running node's hello is accepted; throws TIMEOUT after timeoutMs. */
  waitAccepted(timeoutMs: number): Promise<void>;
  setBattery(name: string, percent: number, charging?: boolean): void;
  setPower(name: string, power: Power): void;
  setLink(name: string, network: Network): void;
  setSilent(name: string, silent: boolean): void;
  /** The node's connection drops (false) and comes back (true), keeping its hello reply. */
  setConnected(name: string, connected: boolean): void;
  stopNode(name: string): void;
  /** Publishes the node's heartbeat now; returns the time it went out, or null. */
  reportNow(name: string): number | null;
  /** Called for every assignment a node receives; returns the unsubscribe. */
  onAssignment(listener: (event: AssignmentEvent) => void): () => void;
  /** Called for every heartbeat a node publishes; returns the unsubscribe. */
  onHeartbeat(listener: (event: HeartbeatEvent) => void): () => void;
  assignmentOf(name: string): AssignmentEvent | null;
  /** The phase a node's executor reports for a workload key. */
  phaseOf(name: string, key: string): string | null;
  stats(): SimulationStats;
  stop(): Promise<void>;
}

export const SITE_LABEL = 'topology.edgeplane.io/site';
export const PROFILE_LABEL = 'edgeplane.io/profile';
export const SIMULATED_LABEL = 'edgeplane.io/simulated';

export function nodeName(prefix: string, index: number): string {
  return `${prefix}-${String(index + 1).padStart(5, '0')}`;
}

export async function startSimulation(options: SimulationOptions): Promise<Simulation> {
  if (!Number.isInteger(options.nodes) || options.nodes < 1) throw new SimulateError('BAD_FLAG', `nodes must be a whole number >= 1, got ${options.nodes}`);
  const log = options.log ?? pino({ level: 'warn' });
  const mix = typeof options.mix === 'string' || options.mix === undefined ? parseMix(options.mix ?? DEFAULT_MIX) : options.mix;
  const prefix = options.namePrefix ?? 'sim';
  const sites = Math.max(1, options.sites ?? 20);
  const timing = { ...defaultPhaseTiming, ...options.timing };
  const connectionCount = Math.max(1, Math.min(options.nodes, options.connections ?? Math.ceil(options.nodes / 500)));

  const profiles = assignProfiles(mix, options.nodes);
  const infos: SimulatedNodeInfo[] = profiles.map((profile, i) => ({
    name: nodeName(prefix, i),
    profile,
    labels: { ...options.labels, [SITE_LABEL]: `site-${(i % sites) + 1}`, [PROFILE_LABEL]: profile, [SIMULATED_LABEL]: 'true' },
  }));
  const events = options.timeline ? resolveTimeline(options.timeline, infos) : new Map<string, TimelineEvent[]>();

  const security = await natsSecurity({ creds: options.natsCreds, ca: options.natsCa }).catch((err: unknown) => {
    throw err instanceof NatsAccessError ? new SimulateError('BAD_FLAG', err.message, { cause: err }) : err;
  });
  const connections: NatsConnection[] = [];
  try {
    for (let i = 0; i < connectionCount; i++) {
      connections.push(
        await connect({ servers: options.natsUrl, name: `edgeplane-simulate/${prefix}/${i}`, maxReconnectAttempts: -1, reconnectTimeWait: 1000, pingInterval: 120_000, ...security }),
      );
    }
  } catch (err) {
    await Promise.all(connections.map((c) => c.close()));
    throw err;
  }

  const counters = newCounters();
  const gate = concurrencyGate(options.helloConcurrency ?? 256);
  const nodes = new Map<string, SimulatedNode>();
  const listeners = new Set<(e: AssignmentEvent) => void>();
  const heartbeatListeners = new Set<(e: HeartbeatEvent) => void>();
  const held = new Map<string, AssignmentEvent>();
  let assignmentsReceived = 0;
  let malformedAssignments = 0;
  let accepted = 0;
  const acceptedNames = new Set<string>();
  let acceptedWaiters: (() => void)[] = [];
  let watching: Promise<void> | null = null;
  let stopped = false;

  const runningCount = () => [...nodes.values()].filter((n) => !n.stopped && !n.silent).length;
  const checkAccepted = () => {
    if ([...nodes.values()].every((n) => n.stopped || n.silent || n.accepted)) {
      for (const w of acceptedWaiters.splice(0)) w();
    }
  };

  const deliver = (entry: KvWatchEntry) => {
    const node = nodes.get(entry.key);
    if (!node) return;
    const previous = held.get(entry.key);
    if (previous && previous.revision >= entry.revision) return;
    let assignment: Assignment;
    if (entry.operation !== 'PUT') {
      assignment = { v: PROTOCOL_VERSION, node: entry.key, workloads: [], issuedAtMs: entry.created.getTime() };
    } else {
      const decoded = decode(Assignment, 'assignment', entry.value);
      if (!decoded.ok || decoded.value.node !== entry.key) {
        malformedAssignments += 1;
        log.warn({ node: entry.key, revision: entry.revision }, 'ignoring malformed assignment; keeping the last good one');
        return;
      }
      assignment = decoded.value;
    }
    assignmentsReceived += 1;
    const event: AssignmentEvent = { node: entry.key, revision: entry.revision, assignment, receivedAtMs: Date.now() };
    held.set(entry.key, event);
    node.applyAssignment(assignment);
    for (const l of listeners) l(event);
  };

  // Control-plane commands (a full heartbeat after it lost telemetry), as agents honour them:
  // one wildcard subscription routed by node, like the assignment watch below.
  const commands = connections[0]!.subscribe(subjects.command('*'), {
    callback: (err, msg) => {
      if (err) return;
      const node = nodes.get(nodeFromSubject(msg.subject) ?? '');
      const cmd = decode(NodeCommand, 'node command', msg.data);
      if (node && cmd.ok && cmd.value.op === 'full-heartbeat') node.requestFullHeartbeat();
    },
  });

  // A real agent reads only its own key (its subject permissions allow no more). Here thousands
  // of agents live in one process, so one watch over the whole bucket on one connection,
  // routed by key, delivers each update once instead of holding thousands of subscriptions;
  // delivery is the same push from the server, so the time to hold an update is comparable.
  const watchAssignments = async (bucket: string): Promise<void> => {
    const nc = connections[0]!;
    let attempt = 0;
    while (!stopped) {
      try {
        const kv: KV = await new Kvm(nc).open(bucket);
        await kv.status();
        const iter = await kv.watch({ key: '>' });
        attempt = 0;
        stopWatch = () => iter.stop();
        for await (const entry of iter) deliver(entry);
      } catch (err) {
        if (stopped) return;
        const delay = Math.min(5000, 100 * 2 ** Math.min(attempt++, 6));
        log.debug({ bucket, err: (err as Error).message, retryInMs: delay }, 'assignment watch not ready; retrying');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  };
  let stopWatch: () => void = () => undefined;

  const onAccepted = (node: SimulatedNode, reply: HelloReply) => {
    if (!acceptedNames.has(node.name)) {
      acceptedNames.add(node.name);
      accepted += 1;
    }
    // The store is fixed here, never taken from a reply.
    watching ??= watchAssignments(stores.assignments);
    checkAccepted();
  };

  infos.forEach((info, i) => {
    nodes.set(
      info.name,
      new SimulatedNode({
        name: info.name,
        profile: PROFILES[info.profile],
        labels: { ...info.labels },
        nc: connections[i % connectionCount]!,
        log,
        random: seededRandom((options.seed ?? 1) * 1_000_003 + i),
        timing,
        counters,
        reportChanges: options.reportChanges ?? true,
        ...(options.conditionsPollMs !== undefined ? { conditionsPollMs: options.conditionsPollMs } : {}),
        onHeartbeat: (node, heartbeat, atMs, early) => {
          for (const l of heartbeatListeners) l({ node: node.name, heartbeat, atMs, early });
        },
        helloTimeoutMs: options.helloTimeoutMs ?? 5000,
        gate,
        onAccepted,
      }),
    );
  });

  const startTimers: NodeJS.Timeout[] = [];
  const rampMs = options.rampMs ?? 0;
  [...nodes.values()].forEach((node, i) => {
    if (rampMs <= 0) node.start();
    else startTimers.push(setTimeout(() => node.start(), (rampMs * i) / nodes.size));
  });

  const startedAt = Date.now();
  const timelineTimer =
    events.size > 0
      ? setInterval(() => {
          const t = (Date.now() - startedAt) / 1000;
          for (const [name, list] of events) {
            const node = nodes.get(name);
            if (!node || node.stopped) continue;
            const now = conditionsAt({ power: node.profile.power, network: node.profile.network, silent: false }, list, t);
            if (JSON.stringify(now.power) !== JSON.stringify(node.power)) node.setPower(now.power);
            if (JSON.stringify(now.network) !== JSON.stringify(node.network)) node.setNetwork(now.network);
            node.setSilent(now.silent);
          }
          checkAccepted();
        }, options.timelineTickMs ?? 1000)
      : undefined;

  const get = (name: string): SimulatedNode => {
    const node = nodes.get(name);
    if (!node) throw new SimulateError('UNKNOWN_NODE', `no simulated node named ${name}`);
    return node;
  };

  return {
    nodes: infos,
    accepted: () => accepted,
    async waitAccepted(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const done = new Promise<void>((resolve) => {
        acceptedWaiters.push(resolve);
        checkAccepted();
      });
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new SimulateError('TIMEOUT', `${accepted} of ${runningCount()} nodes accepted after ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([done, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    setBattery(name, percent, charging) {
      const node = get(name);
      node.setPower({ ...node.power, source: 'battery', batteryPercent: percent, ...(charging !== undefined ? { charging } : {}) });
    },
    setPower: (name, power) => get(name).setPower(power),
    setLink: (name, network) => get(name).setNetwork(network),
    setSilent(name, silent) {
      get(name).setSilent(silent);
      checkAccepted();
    },
    setConnected: (name, connected) => get(name).setConnected(connected),
    stopNode(name) {
      get(name).stop();
      checkAccepted();
    },
    reportNow: (name) => get(name).heartbeat(),
    onAssignment(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onHeartbeat(listener) {
      heartbeatListeners.add(listener);
      return () => heartbeatListeners.delete(listener);
    },
    assignmentOf: (name) => held.get(name) ?? null,
    phaseOf: (name, key) => get(name).phaseOf(key),
    stats() {
      let readyWorkloads = 0;
      for (const info of infos) {
        const a = held.get(info.name);
        for (const w of a?.assignment.workloads ?? []) if (nodes.get(info.name)?.phaseOf(w.key) === 'Ready') readyWorkloads += 1;
      }
      return { ...counters, nodes: nodes.size, accepted, assignmentsReceived, malformedAssignments, readyWorkloads };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      acceptedWaiters = [];
      for (const t of startTimers) clearTimeout(t);
      clearInterval(timelineTimer);
      for (const node of nodes.values()) node.stop();
      stopWatch();
      commands.unsubscribe();
      await Promise.all(connections.map((c) => c.drain().catch(() => c.close())));
      await watching;
    },
  };
}

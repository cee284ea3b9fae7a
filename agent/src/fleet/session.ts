// The agent's session with the control plane over NATS: hello (retried until accepted),
// heartbeats at the interval the reply sets plus early ones on changes the control plane acts
// on (the shared early-heartbeat policy), the assignment watch, and the link probe.
// It survives outages: nats.js reconnects, and on each reconnect the session says hello
// again, sends a full heartbeat next and re-reads its assignment.
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { Hello, NodeCommand, decode, encode, subjects, type Assignment, type HelloReply } from '@edgeplane/api';
import { backoffMs, sleep, HELLO_BACKOFF, type BackoffOptions } from './backoff.ts';
import { createHeartbeatBuilder, createEarlyHeartbeatDriver, encodeHeartbeat, CONDITIONS_POLL_MS, type Conditions, type EarlyReason, type Heartbeat as HeartbeatMessage, type Telemetry } from '@edgeplane/api';
import { watchAssignment, type AssignmentWatch, type AssignmentWatchStats } from './assignment-watch.ts';
import { measureLink, type LinkMeasurement } from '../hardware/link-probe.ts';
import { afterFullProbe, afterRttCheck, afterTransfer, decideProbe, DEFAULT_PROBE_POLICY, type LinkEstimate, type ProbePolicyOptions } from '../hardware/probe-policy.ts';
import { checkHelloReply, DEFAULT_STORES, type ConfiguredStores } from './hello-reply.ts';

export interface FleetSessionOptions {
  nc: NatsConnection;
  node: string;
  log: Logger;
  /** The hello as of now: capability, live power and link, cached artifacts. */
  hello(): Promise<z.input<typeof Hello>>;
  /** Live telemetry for the next heartbeat. */
  telemetry(): Promise<Telemetry>;
  /**
   * The workload reports as of now, read synchronously when the heartbeat is built (they then
   * replace telemetry's): the heartbeat covers exactly the changes made before it.
   */
  workloads?(): Telemetry['workloads'];
  /**
   * Power and link as of now, read between heartbeats to notice a tier-relevant crossing
   * (battery threshold, link class); default: those of `hello()`. Must not consume telemetry.
   */
  conditions?(): Promise<Conditions>;
  /** How often conditions are read, ms; default CONDITIONS_POLL_MS, 0 turns it off. */
  conditionsPollMs?: number;
  /** Told of every heartbeat published: early ones with their reasons, regular ones with none. */
  onHeartbeat?(hb: HeartbeatMessage, early: EarlyReason[] | null): void;
  onAssignment(assignment: Assignment, revision: number): Promise<void>;
  /** Revision of the assignment loaded from disk. */
  initialRevision?: number;
  /** `issuedAtMs` of the assignment loaded from disk. */
  initialIssuedAtMs?: number;
  /**
   * Round-trip check period on unmetered links, ms (metered: 12x); 0 turns link measurement off.
   * A full bandwidth probe runs only when the probe policy asks (no figure, link changed, round
   * trip moved, figure a week old).
   */
  linkProbeIntervalMs?: number;
  /** Overrides of the probe policy (tests). */
  probePolicy?: Partial<ProbePolicyOptions>;
  onLinkMeasured?(m: LinkMeasurement): void;
  /** Whether the current link is metered, for the probe's period and size. */
  metered?(): boolean;
  helloTimeoutMs?: number;
  helloBackoff?: BackoffOptions;
  assignmentResyncMs?: number;
  /** Store names from the agent's configuration; a hello reply never changes them. */
  stores?: ConfiguredStores;
}

export interface FleetSessionStats {
  helloAttempts: number;
  hellosAccepted: number;
  /** Replies refused as malformed or out of bounds (HelloReplyError); hello is retried. */
  helloRepliesRefused: number;
  /** Hellos the control plane asked for (it heard heartbeats from a node it had not admitted). */
  helloRequests: number;
  heartbeatsSent: number;
  /** Of those, sent early because a workload, the battery class or the link class changed. */
  nudges: number;
  /** Early heartbeats by what they reported (one heartbeat may count under several). */
  earlyReasons: Record<EarlyReason, number>;
  heartbeatBytes: number;
  heartbeatIntervalMs: number | null;
  /** Full link probes (bandwidth and round trip). */
  linkProbes: number;
  /** Round-trip checks between full probes. */
  linkRttChecks: number;
  /** NATS frame bytes both kinds cost, both directions. */
  linkProbeFrameBytes: number;
  assignments: AssignmentWatchStats | null;
}

export interface FleetSession {
  /** Resolves with the accepted reply of the first hello. */
  readonly ready: Promise<HelloReply>;
  /**
   * A workload's report changed (a phase, a failure): a heartbeat goes out now instead of at the
   * next tick, as the early-heartbeat policy paces it (a burst coalesces into one message).
   */
  nudge(): void;
  /**
   * A transfer that happened anyway (an artifact download) of `bytes` in `elapsedMs`: a free
   * bandwidth sample that postpones the next full probe.
   */
  observeTransfer(bytes: number, elapsedMs: number): void;
  stats(): FleetSessionStats;
  close(): Promise<void>;
}

/** Pacing of early heartbeats before the first hello reply sets the interval. */
const DEFAULT_INTERVAL_MS = 5000;
/** How often the link probe policy is consulted, ms (no traffic unless it asks for a probe). */
const LINK_CHECK_MS = 60_000;

export function startFleetSession(opts: FleetSessionOptions): FleetSession {
  const { nc, node, log } = opts;
  const abort = new AbortController();
  const stats: FleetSessionStats = { helloAttempts: 0, hellosAccepted: 0, helloRepliesRefused: 0, helloRequests: 0, heartbeatsSent: 0, nudges: 0, earlyReasons: { workload: 0, battery: 0, link: 0 }, heartbeatBytes: 0, heartbeatIntervalMs: null, linkProbes: 0, linkRttChecks: 0, linkProbeFrameBytes: 0, assignments: null };
  const builder = createHeartbeatBuilder(12);
  let reply: HelloReply | null = null;
  let connected = true;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let probeTimer: NodeJS.Timeout | undefined;
  let watch = null as AssignmentWatch | null;
  let helloing: Promise<HelloReply | null> | null = null;
  const configuredStores = opts.stores ?? DEFAULT_STORES;
  let conditionsTimer: NodeJS.Timeout | undefined;
  // A change shows within one heartbeat; a burst of changes costs one message. The timer
  // fires after this function has defined sendHeartbeat.
  const early = createEarlyHeartbeatDriver({ intervalMs: DEFAULT_INTERVAL_MS, send: (reasons) => void sendHeartbeat(reasons) });
  const readConditions =
    opts.conditions ??
    (async (): Promise<Conditions> => {
      const h = await opts.hello();
      return { power: h.power, network: h.network };
    });

  /** Retries until accepted or closed; null when closed first. */
  const helloUntilAccepted = async (): Promise<HelloReply | null> => {
    for (let attempt = 0; !abort.signal.aborted; attempt++) {
      stats.helloAttempts += 1;
      let reason: string;
      try {
        const msg = await nc.request(subjects.hello(node), encode(Hello, 'hello', await opts.hello()), { timeout: opts.helloTimeoutMs ?? 3000 });
        const checked = checkHelloReply(msg.data, configuredStores);
        if (!checked.ok) {
          // Heartbeats keep their current pacing (none yet before the first accepted hello).
          stats.helloRepliesRefused += 1;
          log.warn({ err: checked.error, code: checked.error.code }, 'hello reply refused; keeping the current heartbeat interval');
          reason = checked.error.message;
        } else if (checked.reply.accepted) {
          for (const i of checked.ignored) log.warn({ ...i }, 'hello reply names another store; ignored, the configured one is used');
          stats.hellosAccepted += 1;
          log.info({ attempts: attempt + 1, heartbeatIntervalMs: checked.reply.heartbeatIntervalMs }, 'hello accepted');
          return checked.reply;
        } else {
          reason = `refused: ${checked.reply.reason ?? 'no reason given'}`;
        }
      } catch (err) {
        // No responder yet, timeout, or disconnected: the control plane may still be starting.
        reason = (err as Error).message;
      }
      const delay = backoffMs(attempt, opts.helloBackoff ?? HELLO_BACKOFF);
      log[attempt < 3 ? 'info' : 'warn']({ attempt: attempt + 1, reason, retryInMs: delay }, 'hello not accepted; retrying');
      await sleep(delay, abort.signal);
    }
    return null;
  };

  /** A regular heartbeat, or an early one reporting `reasons`. */
  const sendHeartbeat = async (reasons: EarlyReason[] | null = null) => {
    // An early heartbeat that cannot go out now stays pending: it goes on reconnect.
    const unsent = () => {
      if (reasons) early.notSent();
    };
    if (!reply || !connected || nc.isClosed()) return unsent();
    try {
      // Changes after this point are not in this heartbeat's telemetry: they stay pending.
      let covered = early.policy.workloadChanges;
      let telemetry = await opts.telemetry();
      if (!reply || !connected || nc.isClosed()) return unsent();
      if (opts.workloads) {
        // Read in the same tick as the change count, so the heartbeat settles exactly what it
        // carries: a change made while telemetry was read does not cost another early one.
        covered = early.policy.workloadChanges;
        telemetry = { ...telemetry, workloads: opts.workloads() };
      }
      const hb = builder.next(telemetry);
      const data = encodeHeartbeat(hb);
      nc.publish(subjects.status(node), data);
      early.sent({ power: telemetry.power, network: telemetry.network }, covered, reasons !== null);
      stats.heartbeatsSent += 1;
      stats.heartbeatBytes += data.length;
      if (reasons) {
        stats.nudges += 1;
        for (const r of reasons) stats.earlyReasons[r] += 1;
      }
      if (log.isLevelEnabled('debug')) log.debug({ seq: hb.seq, early: reasons, bytes: data.length, workloads: hb.workloads?.map((w) => `${w.key}:${w.phase}${w.reason ? `:${w.reason}` : ''}`) }, 'heartbeat sent');
      opts.onHeartbeat?.(hb, reasons);
    } catch (err) {
      log.warn({ err }, 'heartbeat not sent');
      unsent();
    }
  };

  const scheduleHeartbeats = (intervalMs: number) => {
    clearInterval(heartbeatTimer);
    stats.heartbeatIntervalMs = intervalMs;
    early.setIntervalMs(intervalMs);
    heartbeatTimer = setInterval(() => void sendHeartbeat(), intervalMs);
  };

  // Battery and link are read between heartbeats, so a crossing goes out early too.
  const pollConditions = async () => {
    if (!reply || !connected || abort.signal.aborted) return;
    try {
      early.observe(await readConditions());
    } catch (err) {
      log.debug({ err }, 'power and link not read');
    }
  };
  const startConditionsPoll = () => {
    clearInterval(conditionsTimer);
    const every = opts.conditionsPollMs ?? CONDITIONS_POLL_MS;
    if (every > 0) conditionsTimer = setInterval(() => void pollConditions(), every);
  };

  // The link figure and when to measure it again (hardware/probe-policy.ts). The policy is
  // consulted every LINK_CHECK_MS at most, which costs no traffic, so a change of link is
  // measured within that time.
  const policy: ProbePolicyOptions = { ...DEFAULT_PROBE_POLICY, checkEveryMs: opts.linkProbeIntervalMs ?? 0, ...opts.probePolicy };
  let linkEstimate: LinkEstimate | null = null;
  let currentLink = 'unknown';
  let nextProbeCheckAt = 0;

  const probeLink = async () => {
    if (!connected || abort.signal.aborted) return;
    try {
      const metered = opts.metered?.() ?? false;
      currentLink = (await readConditions()).network?.type ?? 'unknown';
      let decision = decideProbe(linkEstimate, currentLink, metered, Date.now(), policy);
      if (decision.kind === 'none') {
        nextProbeCheckAt = decision.nextCheckAtMs;
        return;
      }
      if (decision.kind === 'rtt' && linkEstimate) {
        const m = await measureLink(nc, node, { metered, rttOnly: true });
        stats.linkRttChecks += 1;
        stats.linkProbeFrameBytes += m.frameBytes;
        const after = afterRttCheck(linkEstimate, m.rttMs, Date.now(), policy);
        linkEstimate = after.estimate;
        if (!after.fullProbe) return;
        decision = { kind: 'full', reason: 'rtt-shifted' };
      }
      const m = await measureLink(nc, node, { metered });
      stats.linkProbes += 1;
      stats.linkProbeFrameBytes += m.frameBytes;
      linkEstimate = afterFullProbe(m, currentLink, Date.now());
      log.debug({ ...m, reason: decision.kind === 'full' ? decision.reason : 'rtt-shifted' }, 'link measured');
      opts.onLinkMeasured?.(m);
    } catch (err) {
      log.debug({ err }, 'link probe failed');
    }
  };

  const scheduleProbe = () => {
    clearTimeout(probeTimer);
    if (policy.checkEveryMs <= 0 || abort.signal.aborted) return;
    const wait = Math.max(1000, Math.min(LINK_CHECK_MS, nextProbeCheckAt - Date.now()));
    probeTimer = setTimeout(() => void probeLink().finally(scheduleProbe), wait);
  };

  const observeTransfer = (bytes: number, elapsedMs: number): void => {
    const next = afterTransfer(linkEstimate, { bytes, elapsedMs, link: currentLink, atMs: Date.now() }, policy);
    if (!next) return;
    linkEstimate = next;
    opts.onLinkMeasured?.({ rttMs: next.rttMs, bandwidthMbps: next.bandwidthMbps, bytes: 0, requests: 0, frameBytes: 0 });
  };

  /** Hello, then (re)start heartbeats with what the reply says. One at a time. */
  const establish = (): Promise<HelloReply | null> => {
    helloing ??= (async () => {
      const accepted = await helloUntilAccepted();
      if (!accepted) return null;
      reply = accepted;
      builder.reset(accepted.fullEvery);
      scheduleHeartbeats(accepted.heartbeatIntervalMs);
      startConditionsPoll();
      void sendHeartbeat();
      watch ??= watchAssignment({
        nc,
        node,
        bucket: configuredStores.assignmentsBucket,
        log,
        onAssignment: opts.onAssignment,
        ...(opts.initialRevision !== undefined ? { initialRevision: opts.initialRevision } : {}),
        ...(opts.initialIssuedAtMs !== undefined ? { initialIssuedAtMs: opts.initialIssuedAtMs } : {}),
        ...(opts.assignmentResyncMs !== undefined ? { resyncMs: opts.assignmentResyncMs } : {}),
      });
      if (opts.linkProbeIntervalMs) void probeLink().finally(scheduleProbe);
      return accepted;
    })().finally(() => {
      helloing = null;
    });
    return helloing;
  };

  const nudge = (): void => {
    if (!abort.signal.aborted) early.workloadChanged();
  };

  // The control plane lost our telemetry (its Redis, its link): the next heartbeat carries
  // everything. Core NATS: a command missed while disconnected is covered by the full
  // heartbeat that follows every reconnect's hello.
  // It never admitted us (our hello or its reply was lost, our EdgeNode was removed) and drops
  // our heartbeats: say hello again. One hello at a time (establish), paced by the control plane.
  const commands = nc.subscribe(subjects.command(node), {
    callback: (err, msg) => {
      if (err) {
        // A credential issued before this subject existed may not subscribe; all else works.
        log.debug({ err }, 'control-plane commands unavailable');
        return;
      }
      const cmd = decode(NodeCommand, 'node command', msg.data);
      if (!cmd.ok) return void log.debug({ err: cmd.error }, 'malformed control-plane command dropped');
      if (cmd.value.op === 'full-heartbeat') builder.reset();
      else if (cmd.value.op === 'hello' && reply && !abort.signal.aborted) {
        stats.helloRequests += 1;
        log.info('the control plane asked for a hello; saying hello again');
        void establish();
      }
    },
  });

  const ready = establish().then((r) => r ?? Promise.reject(new Error('fleet session closed before hello was accepted')));
  ready.catch(() => undefined);

  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        connected = false;
        log.warn({ server: s.server }, 'disconnected from NATS; serving on');
      } else if (s.type === 'reconnect') {
        connected = true;
        log.info({ server: s.server }, 'reconnected to NATS');
        // A change made while disconnected (a renewal's reconnect lands amid downloads and
        // loads) goes out now, not after the hello's round trip or at the next tick.
        early.resume();
        watch?.resync();
        void establish();
      }
    }
  })();

  return {
    ready,
    nudge,
    observeTransfer,
    stats: () => ({ ...stats, assignments: watch?.stats() ?? null }),
    async close() {
      abort.abort();
      commands.unsubscribe();
      clearInterval(heartbeatTimer);
      clearInterval(conditionsTimer);
      early.stop();
      clearTimeout(probeTimer);
      await helloing;
      await watch?.stop();
    },
  };
}

// The workload manager: makes the running workloads match the node's assignment, and is
// the registry the serving side (NATS and HTTP) looks models up in.
import { join } from 'node:path';
import type { AcceleratorLoad, Assignment, EscalationCounters, EscalationOutcome, WorkloadAssignment, WorkloadReport } from '@edgeplane/api';
import type { NatsConnection, Status } from '@nats-io/transport-node';
import { pino, type Logger } from 'pino';
import { ArtifactStore } from '../artifacts/index.ts';
import { TrustPolicy } from '../artifacts/trust.ts';
import type { Isolation } from '../runtime/index.ts';
import { Escalator, type EscalationGrant, type Upward } from '../cascade/escalator.ts';
import type { LinkCost } from '../cascade/decide.ts';
import { serveNats, type NatsServing } from '../serve/nats.ts';
import type { ModelRegistry, ServedModel } from '../serve/registry.ts';
import { natsUpward } from '../serve/upward.ts';
import type { WorkloadManager, WorkloadManagerOptions } from './types.ts';
import { LoadJournal } from './load-journal.ts';
import { Workload, type WorkloadEvent } from './workload.ts';

export interface ManagerOptions extends WorkloadManagerOptions {
  log?: Logger;
  /** Node name, sent back in the `ep-node` reply header. */
  node?: string;
  /** Connection for nats-obj:// artifacts and for serving inference over NATS. */
  nats?: NatsConnection | null;
  /** Sessions per accelerator (default 1). */
  sessionsPerAccelerator?: number;
  /** `compatible`: also run each workload on every other accelerator supporting its precision. */
  spread?: 'assigned' | 'compatible';
  /** Intra-op threads per session; 0 lets ONNX Runtime choose (default 1). */
  threads?: number;
  /** `worker` (default): each session in its own thread, so inference never blocks the event loop. */
  isolation?: Isolation;
  /** Requests queued per workload at most (default 256). */
  maxQueue?: number;
  /** Extra CA certificates for https:// artifacts (PEM). */
  httpsCa?: string | string[];
  /** A download that delivers nothing for this long is resumed, ms. */
  stallTimeoutMs?: number;
  /** Pause before resuming a broken download, ms, times the attempt number (default 500). */
  fetchRetryDelayMs?: number;
  /** Warnings and notable changes (provider fallback, digest mismatch), for Events. */
  onEvent?: (e: WorkloadEvent) => void;
  /** Wraps each served model (metrics count and time its inference); the same wrapper per model. */
  instrument?: <M extends ServedModel>(model: M) => M;
}

export interface WorkloadManagerImpl extends WorkloadManager, ModelRegistry {
  /** Attaches (or, with null, detaches) the NATS connection used to serve inference. */
  attachNats(nc: NatsConnection | null): void;
  /** Resolves once no workload is Downloading or Loading (tests, start-up). */
  settled(): Promise<void>;
  /** The artifact cache's size and fetch counts, for metrics. */
  cacheStats(): { usedBytes: number; artifacts: number; hits: number; misses: number };
  /** Per workload with an escalation tier: its counters and replies by outcome, for metrics. */
  escalation(): EscalationStats[];
}

export interface EscalationStats {
  workload: string;
  counters: EscalationCounters;
  outcomes: Record<EscalationOutcome, number>;
}

export async function createWorkloadManager(options: ManagerOptions): Promise<WorkloadManagerImpl> {
  const log = (options.log ?? pino({ level: 'silent' })).child({ component: 'workloads' });
  let nc: NatsConnection | null = options.nats ?? null;
  const store = await ArtifactStore.open({
    dir: options.cacheDir,
    maxBytes: options.cacheMaxBytes,
    nats: () => nc,
    logger: log,
    ...(options.httpsCa ? { httpsCa: options.httpsCa } : {}),
    ...(options.fileRoots ? { fileRoots: options.fileRoots } : {}),
    ...(options.stallTimeoutMs ? { stallTimeoutMs: options.stallTimeoutMs } : {}),
    ...(options.fetchRetryDelayMs !== undefined ? { retryDelayMs: options.fetchRetryDelayMs } : {}),
    ...(options.onTransfer ? { onTransfer: options.onTransfer } : {}),
  });
  const journal = await LoadJournal.open(join(options.cacheDir, 'loading'));
  const workloads = new Map<string, Workload>();
  const serving = new Map<string, NatsServing>();
  // Counts and times every inference, whichever front end it came through (metrics).
  const instrument = options.instrument ?? (<M extends ServedModel>(m: M): M => m);
  const pending = new Set<Promise<void>>();
  // Joint inference: one escalator per workload (its budget and counters live as long as the
  // workload does here), reached through the served model's answer().
  const escalators = new Map<string, Escalator>();
  let online = nc !== null;
  let upward: Upward | null = null;
  const maxPayloadBytes = options.maxPayloadBytes ?? 8 * 1024 * 1024;
  const watchLink = (conn: NatsConnection | null): void => {
    online = conn !== null && !conn.isClosed();
    upward = conn ? natsUpward(conn, { node: options.node ?? '', maxReplyBytes: maxPayloadBytes }) : null;
    if (!conn) return;
    void (async () => {
      for await (const s of conn.status() as AsyncIterable<Status>) {
        if (nc !== conn) return;
        if (s.type === 'disconnect') online = false;
        else if (s.type === 'reconnect') online = true;
      }
    })().catch(() => undefined);
  };
  watchLink(nc);
  const link = (): LinkCost => (!nc || !online || nc.isClosed() ? 'offline' : options.metered?.() ? 'metered' : 'unmetered');
  const sg = options.serveGrant;
  const escalationGrant: EscalationGrant | undefined =
    sg?.mayEscalate && sg.ensureEscalate ? { may: (d) => sg.mayEscalate!(d), ask: (d) => sg.ensureEscalate!(d) } : undefined;
  const escalatorOf = (key: string): Escalator => {
    let e = escalators.get(key);
    if (!e) {
      e = new Escalator({ key, upward: () => (online ? upward : null), link, ...(escalationGrant ? { grant: escalationGrant } : {}), log });
      escalators.set(key, e);
    }
    return e;
  };
  /** The model the front ends see: counted (metrics) and answering with escalation. The same object per workload. */
  const servedModels = new WeakMap<Workload, ServedModel>();
  const served = (w: Workload): ServedModel => {
    const known = servedModels.get(w);
    if (known) return known;
    const counted = instrument(w);
    const answer: NonNullable<ServedModel['answer']> = (tensors, opts) => escalatorOf(w.key).answer(counted, tensors, opts);
    // Everything but answer reads through to the model as it is now; methods keep it as `this` (private fields).
    const model = new Proxy(counted, {
      get: (target, prop) => {
        if (prop === 'answer') return answer;
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    servedModels.set(w, model);
    return model;
  };

  const ctx = {
    store,
    journal,
    trust: options.trust ?? TrustPolicy.permissive(),
    accelerators: options.accelerators,
    log,
    sessionsPerAccelerator: Math.max(1, options.sessionsPerAccelerator ?? 1),
    spread: options.spread ?? 'assigned',
    threads: options.threads ?? 1,
    isolation: options.isolation ?? 'worker',
    maxQueue: options.maxQueue ?? 256,
    onEvent: options.onEvent ?? (() => undefined),
    onReportChange: options.onReportChange ?? (() => undefined),
  } as const;

  const track = (p: Promise<void>, w: Workload): void => {
    const t = p.then(() => syncServing(w));
    pending.add(t);
    void t.finally(() => pending.delete(t));
  };

  /** Subscribes a workload's subject once it is ready; the subscription outlives variant switches. */
  const syncServing = (w: Workload): void => {
    if (!nc || !w.ready || serving.has(w.key) || !workloads.has(w.key)) return;
    serving.set(
      w.key,
      serveNats(nc, served(w), {
        node: options.node ?? '',
        maxPayloadBytes,
        ...(options.maxTensorElements ? { maxTensorElements: options.maxTensorElements } : {}),
        logger: log,
        ...(options.serveGrant ? { grant: options.serveGrant } : {}),
        onSubscribedChange: () => ctx.onReportChange(),
      }),
    );
  };

  /**
   * Ready means reachable: a loaded model is reported Loading until its inference subject is
   * subscribed, so a client that sees Ready never meets "no responders".
   */
  const servingReport = (r: WorkloadReport, s: NatsServing | undefined): WorkloadReport => {
    if (!nc || r.phase !== 'Ready' || s?.stats.subscribed) return r;
    return { ...r, phase: 'Loading', reason: 'AwaitingServeGrant', message: 'loaded; not yet serving over NATS (waiting for the node credential to grant this deployment)' };
  };

  const stopServing = async (key: string): Promise<void> => {
    const s = serving.get(key);
    serving.delete(key);
    await s?.stop();
  };

  const manager: WorkloadManagerImpl = {
    async apply(assignment: Assignment) {
      const wanted = new Map<string, WorkloadAssignment>(assignment.workloads.map((w) => [w.key, w]));
      for (const [key, w] of workloads) {
        if (wanted.has(key)) continue;
        workloads.delete(key);
        log.info({ workload: key }, 'workload removed; draining');
        const escalator = escalators.get(key);
        escalators.delete(key);
        track(stopServing(key).then(() => Promise.all([w.remove(), escalator?.settled()])).then(() => undefined), w);
      }
      for (const [key, a] of wanted) {
        // The escalate grant is asked for with the assignment, not at the first hard input.
        if (nc && a.escalation && escalationGrant && !escalationGrant.may({ namespace: a.namespace, deployment: a.escalation.deployment })) {
          void escalationGrant.ask({ namespace: a.namespace, deployment: a.escalation.deployment }).catch(() => undefined);
        }
        const existing = workloads.get(key);
        if (existing) {
          track(existing.update(a), existing);
          continue;
        }
        const w = new Workload(a, ctx);
        workloads.set(key, w);
        // The serve grant is asked for while the model downloads and loads, not after.
        if (nc && options.serveGrant) void options.serveGrant.ensure(a).catch(() => undefined);
        track(w.start(), w);
      }
    },

    reports(): WorkloadReport[] {
      return [...workloads.values()]
        .map((w) => {
          const r = servingReport(w.report(), serving.get(w.key));
          // Cumulative, so a heartbeat lost in between loses nothing.
          return w.assignment.escalation ? { ...r, escalation: escalatorOf(w.key).counters() } : r;
        })
        .sort((a, b) => a.key.localeCompare(b.key));
    },

    escalation(): EscalationStats[] {
      return [...workloads.values()]
        .filter((w) => w.assignment.escalation)
        .map((w) => {
          const e = escalatorOf(w.key);
          return { workload: w.key, counters: e.counters(), outcomes: e.outcomes() };
        })
        .sort((a, b) => a.workload.localeCompare(b.workload));
    },

    load(): AcceleratorLoad[] {
      const byAcc = new Map<string, { busy: number; interval: number; queued: number }>();
      for (const a of options.accelerators) byAcc.set(a.id, { busy: 0, interval: 0, queued: 0 });
      for (const w of workloads.values()) {
        for (const lane of w.takeLoad()) {
          const e = byAcc.get(lane.acceleratorId) ?? { busy: 0, interval: 0, queued: 0 };
          e.busy += lane.busyMs;
          e.interval += lane.intervalMs;
          e.queued += lane.queued;
          byAcc.set(lane.acceleratorId, e);
        }
      }
      return [...byAcc].map(([id, e]) => ({
        id,
        util: e.interval > 0 ? Math.min(1, Math.round((e.busy / e.interval) * 1000) / 1000) : 0,
        queue: e.queued,
      }));
    },

    cachedArtifacts(): string[] {
      return store.digests();
    },

    cacheStats() {
      return { usedBytes: store.usedBytes(), artifacts: store.digests().length, ...store.fetchCounts() };
    },

    async close() {
      const all = [...workloads.values()];
      workloads.clear();
      await Promise.all([...serving.keys()].map(stopServing));
      await Promise.all([...all.map((w) => w.remove()), ...[...escalators.values()].map((e) => e.settled())]);
    },

    attachNats(next) {
      const keys = [...serving.keys()];
      nc = next;
      watchLink(next);
      void Promise.all(keys.map(stopServing)).then(() => {
        for (const w of workloads.values()) syncServing(w);
      });
    },

    async settled() {
      while (pending.size > 0) await Promise.all([...pending]);
    },

    model(name) {
      const direct = workloads.get(name) ?? workloads.get(name.replace('.', '/'));
      if (direct) return served(direct);
      const matches = [...workloads.values()].filter((w) => w.assignment.deployment === name);
      return matches.length === 1 ? served(matches[0]!) : null;
    },

    models() {
      return [...workloads.values()].map(served);
    },
  };
  return manager;
}

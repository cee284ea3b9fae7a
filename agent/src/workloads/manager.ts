// The workload manager: makes the running workloads match the node's assignment, and is
// the registry the serving side (NATS and HTTP) looks models up in.
import { join } from 'node:path';
import type { AcceleratorLoad, Assignment, WorkloadAssignment, WorkloadReport } from '@edgeplane/api';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino, type Logger } from 'pino';
import { ArtifactStore } from '../artifacts/index.ts';
import { TrustPolicy } from '../artifacts/trust.ts';
import type { Isolation } from '../runtime/index.ts';
import { serveNats, type NatsServing } from '../serve/nats.ts';
import type { ModelRegistry, ServedModel } from '../serve/registry.ts';
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
      serveNats(nc, instrument(w), {
        node: options.node ?? '',
        maxPayloadBytes: options.maxPayloadBytes ?? 8 * 1024 * 1024,
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
        track(stopServing(key).then(() => w.remove()), w);
      }
      for (const [key, a] of wanted) {
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
      return [...workloads.values()].map((w) => servingReport(w.report(), serving.get(w.key))).sort((a, b) => a.key.localeCompare(b.key));
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
      await Promise.all(all.map((w) => w.remove()));
    },

    attachNats(next) {
      const keys = [...serving.keys()];
      nc = next;
      void Promise.all(keys.map(stopServing)).then(() => {
        for (const w of workloads.values()) syncServing(w);
      });
    },

    async settled() {
      while (pending.size > 0) await Promise.all([...pending]);
    },

    model(name) {
      const direct = workloads.get(name) ?? workloads.get(name.replace('.', '/'));
      if (direct) return instrument(direct);
      const matches = [...workloads.values()].filter((w) => w.assignment.deployment === name);
      return matches.length === 1 ? instrument(matches[0]!) : null;
    },

    models() {
      return [...workloads.values()].map(instrument);
    },
  };
  return manager;
}

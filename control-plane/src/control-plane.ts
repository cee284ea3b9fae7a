// Wires the control plane together. Every replica ingests heartbeats and answers probes;
// the one holding the Lease also answers hellos, reconciles, and writes to Kubernetes and KV.
import { readFile } from 'node:fs/promises';
import { encode, NodeCommand, PROTOCOL_VERSION, redactSecrets, redactUrl, stores, subjects, type EdgeModelDeployment, type EdgeNode } from '@edgeplane/api';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { apiAuth } from './api/api-auth.ts';
import { build } from './api/app.ts';
import { LiveReadModel } from './api/read-model.ts';
import { DEFAULT_KV_REPLICAS, type Config } from './config.ts';
import { AssignmentPublisher } from './fleet/assignment-publisher.ts';
import { DeliveryCheck } from './fleet/delivery-check.ts';
import { DeploymentFinalizer } from './kube/finalizer.ts';
import { HeartbeatIngestor } from './fleet/heartbeats.ts';
import { HelloAgain } from './fleet/hello-again.ts';
import { highestStoredTerm } from './fleet/stored-term.ts';
import { HelloResponder } from './fleet/hello.ts';
import { PendingHellos } from './fleet/hello-pending.ts';
import { MalformedReporter } from './fleet/malformed.ts';
import { natsSecurityOptions } from './fleet/nats-connect.ts';
import { ProbeResponder } from './fleet/probe.ts';
import { SiteMirrorKeeper } from './fleet/site-mirrors.ts';
import { startIdentityServices, type IdentityServices } from './fleet/identity.ts';
import { TelemetryStore } from './fleet/telemetry-store.ts';
import { kubeAccessReviewer } from './kube/access-review.ts';
import { kubeClients, loadKubeConfig } from './kube/client.ts';
import { EventRecorder } from './kube/events.ts';
import { NodeEvents } from './kube/node-events.ts';
import { ResourceInformer } from './kube/informers.ts';
import { LeaderElector } from './kube/leader.ts';
import { deploymentsKind, nodesKind } from './kube/resources.ts';
import { StatusWriter } from './kube/status-writer.ts';
import { createDashboard } from './dashboard/index.ts';
import { createLogger } from './log.ts';
import { redisTarget } from './redis-connect.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { Controller } from './reconcile/controller.ts';
import { NodeMonitor } from './reconcile/node-monitor.ts';
import { PlacementIndex } from './reconcile/placement-index.ts';
import { PlacementStore } from './reconcile/placement-store.ts';
import { DeploymentReconciler } from './reconcile/reconciler.ts';
import { TelemetryView } from './reconcile/telemetry-view.ts';
import { NodeCollector } from './reconcile/node-gc.ts';
import { DEFAULT_HELLO_MAX_IN_FLIGHT, DEFAULT_HELLO_PER_NODE_INTERVAL_MS, DEFAULT_MAX_NODES, DEFAULT_NODE_GC_AFTER_MS } from './config.ts';
import { PlacementRebuilder } from './reconcile/placement-rebuild.ts';
import { DEFAULT_FAILURE_BACKOFF } from './reconcile/failures.ts';
import type { PlacementOptions } from './placement/types.ts';

export interface StartOptions {
  logger?: Logger;
  placementOptions?: Partial<PlacementOptions>;
  /** Wraps the assignments bucket, for fault tests that make chosen writes fail. */
  wrapAssignments?: (kv: KV) => KV;
}

export interface ControlPlane {
  /** `http://host:port` of the HTTP API. */
  address: string;
  port: number;
  identity: string;
  metrics: Metrics;
  isLeader(): boolean;
  /** Stops everything; `release: false` keeps the Lease held, as a crash would. */
  stop(options?: { release?: boolean }): Promise<void>;
}

/**
 * Creates the assignments bucket again when JetStream lost it (its data wiped), before a
 * level-based sync rewrites every entry. Short timeouts: a store still recovering costs one
 * resync period, not a 5 s request timeout that holds up the next pass.
 */
async function ensureAssignmentsBucket(nc: NatsConnection, timeoutMs: number, replicas: number): Promise<void> {
  const jsm = await jetstreamManager(nc, { timeout: timeoutMs });
  try {
    await jsm.streams.info(`KV_${stores.assignments}`);
    return;
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
  }
  await new Kvm(nc).create(stores.assignments, { history: 1, allow_direct: true, replicas });
}

/**
 * Opens (creating when absent, with `replicas` copies) the assignments bucket; history 1:
 * agents want the latest.
 */
async function assignmentsBucket(nc: NatsConnection, replicas: number): Promise<KV> {
  const kvm = new Kvm(nc);
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.info(`KV_${stores.assignments}`);
    return await kvm.open(stores.assignments);
  } catch {
    // Direct gets put the key in the subject, so nats-server can hold each node to its own key.
    return await kvm.create(stores.assignments, { history: 1, allow_direct: true, replicas });
  }
}

export async function startControlPlane(config: Config, options: StartOptions = {}): Promise<ControlPlane> {
  const log = options.logger ?? createLogger(config.logLevel, config.identity);
  const metrics = createMetrics({ defaultMetrics: true });
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        log.warn({ err }, 'error during shutdown');
      }
    }
  };

  try {
    // Credentials first: a bad kubeconfig is a configuration error, found before any connection.
    const kube = kubeClients(loadKubeConfig(config.kube));
    const redisCa = config.redisCa ? await readFile(config.redisCa, 'utf8') : undefined;
    const target = redisTarget(config, { lazyConnect: true, maxRetriesPerRequest: 3, connectionName: `ep-control-plane-${config.identity}` }, redisCa);
    const redis = target.url ? new Redis(target.url, target.options) : new Redis(target.options);
    redis.on('error', (err: Error) => log.warn({ err }, 'redis error'));
    await redis.connect().catch((cause: unknown) => {
      throw new Error(`cannot connect to Redis at ${target.describe}: ${redactSecrets((cause as Error).message)}`, { cause });
    });
    cleanups.push(() => redis.quit());

    if (config.insecureNats) {
      log.warn({ setting: 'EP_INSECURE_NATS (--insecure-nats)', nats: redactUrl(config.natsUrl) }, 'INSECURE: NATS without TLS or credentials; anyone who reaches the server can speak for any node');
    }
    const security = await natsSecurityOptions(config);
    const nc = await connect({ servers: config.natsUrl, name: `ep-control-plane-${config.identity}`, maxReconnectAttempts: -1, reconnectTimeWait: 500, ...security }).catch(
      (cause: unknown) => {
        throw new Error(`cannot connect to NATS at ${redactUrl(config.natsUrl)}: ${redactSecrets((cause as Error).message)}`, { cause });
      },
    );
    let natsConnected = true;
    // Heartbeats sent while we were away are lost: that silence is ours, not the nodes'.
    let onNatsReconnect: () => void = () => {};
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') natsConnected = false;
        if (s.type === 'reconnect') {
          natsConnected = true;
          onNatsReconnect();
        }
      }
    })();
    cleanups.push(() => nc.drain());
    const kvReplicas = config.kvReplicas ?? DEFAULT_KV_REPLICAS;
    const bucket = await assignmentsBucket(nc, kvReplicas);
    const kv = options.wrapAssignments ? options.wrapAssignments(bucket) : bucket;

    let elector: LeaderElector | undefined;
    const mayWrite = () => elector?.isLeader() ?? false;
    const onKubeWrite = (resource: string) => metrics.kubeWrites.inc({ resource });

    const deployments = new ResourceInformer<EdgeModelDeployment>({ ...kube, kind: deploymentsKind, namespaces: config.namespaces, log });
    metrics.watchDeployments(() => deployments.list());
    const nodes = new ResourceInformer<EdgeNode>({ ...kube, kind: nodesKind, labelSelector: config.nodeSelector, log });
    const telemetry = new TelemetryStore(redis);
    // Planning's copy of node telemetry: what the monitor read on a change, the rest at most a heartbeat old.
    const telemetryView = new TelemetryView(telemetry, config.heartbeatIntervalMs);
    const placementStore = new PlacementStore(redis);
    const index = new PlacementIndex();
    const malformed = new MalformedReporter(metrics, log);
    const statusWriter = new StatusWriter({ custom: kube.custom, log, mayWrite, onWrite: onKubeWrite });
    const events = new EventRecorder({ events: kube.events, identity: config.identity, log, mayWrite, onWrite: onKubeWrite });
    // Registered, NotReady, Ready, cordoned, revoked: from the informer's changes, aggregated into series.
    const nodeEvents = new NodeEvents({ events: kube.events, identity: config.identity, log, mayWrite, onWrite: onKubeWrite });
    nodes.on((type, name, node) => nodeEvents.observe(type, name, node));
    // A bucket lost with JetStream's data is created again before the next level-based sync.
    // A node away (NotReady) keeps its entry as it is, so it keeps serving; see node-lifecycle.ts.
    const away = (node: string): boolean => {
      // A deleted EdgeNode is not away: its entry goes.
      if (!nodes.get(node)) return false;
      const life = monitor.lifecycle(node);
      if (life) return !life.ready;
      return nodes.get(node)?.status?.conditions?.find((c) => c.type === 'Reachable')?.status === 'False';
    };
    const publisher = new AssignmentPublisher({ kv, metrics, log, mayWrite, term: () => elector?.term(), ensureBucket: () => ensureAssignmentsBucket(nc, Math.min(2000, config.resyncMs / 2), kvReplicas), holds: away });
    const rebuilder = new PlacementRebuilder({ kv, deployments, index, store: placementStore, log });

    let controller: Controller | undefined;
    const enqueue = (key: string) => controller?.enqueue(key);
    const monitor: NodeMonitor = new NodeMonitor({
      nodes,
      deployments,
      telemetry,
      telemetryView,
      statusWriter,
      index,
      metrics,
      log,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      lifecycle: {
        gracePeriodMs: config.nodeMonitorGracePeriodMs,
        evictionDelayMs: config.evictionDelayMs,
        fullDisruptionFraction: config.fullDisruptionFraction,
        fullDisruptionMinNodes: config.fullDisruptionMinNodes,
      },
      enqueue,
      requestFullHeartbeats: (names) => {
        const data = encode(NodeCommand, 'node command', { v: PROTOCOL_VERSION, op: 'full-heartbeat' });
        for (const n of names) nc.publish(subjects.command(n), data);
      },
      // Redis lost its data: placements back from memory, or from KV and status.
      onTelemetryLost: async (reason) => {
        if (reason !== 'redis-data-lost') return;
        await rebuilder.resave();
        await rebuilder.restore();
      },
      onNodeReturned: (node) => {
        void publisher.release(node).catch((err: unknown) => log.warn({ node, err }, 'could not publish the assignment of a returning node; the next resync retries'));
      },
    });
    onNatsReconnect = () => {
      if (controller?.leading) void monitor.telemetryLost('nats-reconnected');
    };
    // Whichever replica leads acts on it, this one included.
    const nodeChanged = (node: string) => nc.publish(internalSubjects.nodeChanged, node);
    const hello = new HelloResponder({
      nc,
      custom: kube.custom,
      statusWriter,
      store: telemetry,
      metrics,
      malformed,
      log,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      mayWrite,
      onKubeWrite,
      maxInFlight: config.helloMaxInFlight ?? DEFAULT_HELLO_MAX_IN_FLIGHT,
      perNode: { burst: HELLO_BURST, refillMs: config.helloPerNodeIntervalMs ?? DEFAULT_HELLO_PER_NODE_INTERVAL_MS },
      nodeLimit: { max: config.maxNodes ?? DEFAULT_MAX_NODES, count: () => nodes.size, isKnown: (n) => nodes.get(n) !== undefined },
      cached: (n) => nodes.get(n) ?? null,
      pending: new PendingHellos(redis),
      onHello: (node) => controller?.nodeChanged(node),
    });
    const reconciler = new DeploymentReconciler({
      deployments,
      nodes,
      telemetry,
      telemetryView,
      placementStore,
      index,
      publisher,
      statusWriter,
      events,
      metrics,
      log,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      lifecycle: (node) => monitor.lifecycle(node),
      mayWrite,
      finalizer: new DeploymentFinalizer({ custom: kube.custom, mayWrite, onWrite: onKubeWrite }),
      ...(options.placementOptions ? { placementOptions: options.placementOptions } : {}),
      failureBackoff: { initialMs: config.failureBackoffInitialMs ?? DEFAULT_FAILURE_BACKOFF.initialMs, maxMs: config.failureBackoffMaxMs ?? DEFAULT_FAILURE_BACKOFF.maxMs },
    });
    const delivery = new DeliveryCheck({ publisher, telemetry, desired: reconciler.desiredFor, log, heartbeatIntervalMs: config.heartbeatIntervalMs, onRepublish: () => metrics.assignmentRepublishes.inc() });
    controller = new Controller({ deployments, nodes, reconciler, monitor, hello, index, placementStore, publisher, metrics, log, workers: config.workers, resyncMs: config.resyncMs, delivery, rebuilder });
    const ctl = controller;

    // Heartbeats that landed on another replica reach the leader through this subject.
    const changedSub = nc.subscribe(internalSubjects.nodeChanged, {
      callback: (err, msg) => {
        if (!err && ctl.leading) ctl.nodeChanged(msg.string());
      },
    });
    cleanups.push(() => changedSub.unsubscribe());

    // The dashboard: nodes re-read when an ingest replica announces a change; history by the leader.
    const dashboard = createDashboard({
      nodes,
      deployments,
      redis,
      telemetry,
      placements: placementStore,
      events: kube.events,
      registry: metrics.registry,
      log,
      gracePeriodMs: config.nodeMonitorGracePeriodMs,
      isLeader: () => (elector?.isLeader() ?? false) && ctl.leading,
      distDir: config.dashboardDir,
    });
    const dashboardSub = nc.subscribe(internalSubjects.nodeChanged, {
      callback: (err, msg) => {
        if (!err) dashboard.model.markChanged(msg.string());
      },
    });
    dashboard.start();
    cleanups.push(() => dashboardSub.unsubscribe(), () => dashboard.stop());

    await Promise.all([deployments.start(), nodes.start()]);
    cleanups.push(() => deployments.stop(), () => nodes.stop());

    const ingestor = new HeartbeatIngestor({
      nc,
      store: telemetry,
      metrics,
      malformed,
      log,
      onChange: (node) => nodeChanged(node),
      // Only nodes with an EdgeNode cost a write or memory; a few times their pace is allowed.
      isKnown: (n) => nodes.get(n) !== undefined || hello.isAdmitted(n),
      // A node heartbeating unadmitted (its hello or reply lost) is asked to say hello again, no
      // more often than the hello pace lets it say hello at all.
      helloAgain: new HelloAgain({ send: (n, data) => nc.publish(subjects.command(n), data), perNodeMs: config.helloPerNodeIntervalMs ?? DEFAULT_HELLO_PER_NODE_INTERVAL_MS }),
      perNode: { burst: HEARTBEAT_BURST, refillMs: config.heartbeatIntervalMs / HEARTBEAT_PACE_FACTOR },
      // A node asked for a full heartbeat sends it within an interval; not again before two.
      gapRepair: { perNodeMs: 2 * config.heartbeatIntervalMs },
    });
    ingestor.start();
    cleanups.push(() => ingestor.stop());
    cleanups.push(() => nodeEvents.stop());
    // An EdgeNode gone (collected or deleted) leaves nothing about it in this replica's memory.
    nodes.on((type, name) => {
      if (type !== 'delete') return;
      ingestor.forgetNode(name);
      hello.forgetNode(name);
      monitor.forgetNode(name);
      publisher.forget(name);
      // Its dashboard history too: it would expire within the hour, but a flood of names must
      // not hold a key each until then.
      void dashboard.history.forget(name).catch((err: unknown) => log.warn({ err, node: name }, 'could not delete the dashboard history of a removed node'));
    });
    const collector = new NodeCollector({
      nodes,
      custom: kube.custom,
      telemetry,
      index,
      jsm: await jetstreamManager(nc),
      bucket: stores.assignments,
      kv,
      metrics,
      log,
      gcAfterMs: config.nodeGcAfterMs ?? DEFAULT_NODE_GC_AFTER_MS,
      mayWrite,
      onKubeWrite,
    });
    cleanups.push(() => collector.stop());
    // Sites' mirrors of the assignments, back to following the hub soon after an uplink cut.
    const siteMirrors = new SiteMirrorKeeper({ nc, domains: config.siteDomains ?? [], stream: `KV_${stores.assignments}`, log });
    cleanups.push(() => siteMirrors.stop());
    const probe = new ProbeResponder(nc, malformed);
    probe.start();
    cleanups.push(() => probe.stop());

    // Enrolment, renewal and revocation: leader only, like hello; off without a trust file.
    const identityServices: IdentityServices | null = await startIdentityServices({ config, log, kube, nc, kv, metrics, malformed, nodes, mayWrite, onKubeWrite });
    if (identityServices) cleanups.push(() => identityServices.close());

    elector = new LeaderElector({
      coordination: kube.coordination,
      name: config.leaseName,
      namespace: config.leaseNamespace,
      identity: config.identity,
      leaseDurationMs: config.leaseDurationMs,
      renewDeadlineMs: config.renewDeadlineMs,
      retryPeriodMs: config.retryPeriodMs,
      log,
      // Terms keep growing across a deleted Lease, so fenced writes are not refused for ever.
      initialTerm: () => highestStoredTerm(kv),
      onStartedLeading: async () => {
        await ctl.startLeading();
        identityServices?.start();
        collector.start();
        siteMirrors.start();
        // The leader's subscriptions (hello, enrol, renew) are on the server before it says it
        // leads, so no request meets "no responders" in between.
        await nc.flush();
      },
      onStoppedLeading: async () => {
        await collector.stop();
        await siteMirrors.stop();
        await identityServices?.stop();
        await ctl.stopLeading();
      },
    });

    const app = build({
      auth: apiAuth(config, (o) => kubeAccessReviewer(kube.kc, o), log),
      readiness: () => {
        const checks = { informers: deployments.synced && nodes.synced, nats: natsConnected && !nc.isClosed(), redis: redis.status === 'ready' };
        return { ready: Object.values(checks).every(Boolean), checks };
      },
      registry: metrics.registry,
      log,
      read: new LiveReadModel({ nodes, deployments, telemetry, placements: placementStore, gracePeriodMs: config.nodeMonitorGracePeriodMs }),
      dashboard: dashboard.plugin,
    });
    await app.listen({ host: config.apiAddr.host, port: config.apiAddr.port });
    cleanups.push(() => app.close());
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.apiAddr.port;
    const host = config.apiAddr.host.includes(':') ? `[${config.apiAddr.host}]` : config.apiAddr.host;

    const el = elector;
    el.start();
    log.info({ api: `http://${host}:${port}`, nats: redactUrl(config.natsUrl), lease: `${config.leaseNamespace}/${config.leaseName}` }, 'control plane started');

    let stopping: Promise<void> | undefined;
    return {
      address: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
      port,
      identity: config.identity,
      metrics,
      // Leading and started (reconciling, answering hellos), not merely holding the Lease.
      isLeader: () => el.isLeader() && ctl.leading,
      stop(stopOptions = {}) {
        stopping ??= (async () => {
          await el.stop(stopOptions);
          await cleanup();
          log.info('control plane stopped');
        })();
        return stopping;
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Hellos a node may send at once before its per-node interval applies. */
const HELLO_BURST = 5;
/** Heartbeats a node may send at once, and how many times its interval's pace is allowed. */
const HEARTBEAT_BURST = 10;
const HEARTBEAT_PACE_FACTOR = 2;

/** Subjects between control-plane replicas only; agents have no permission on them. */
export const internalSubjects = {
  nodeChanged: 'ep.cp.v1.node-changed',
} as const;

// Wires the agent together: discovery, the workload manager, the assignment kept on disk
// and the fleet session. The assignment on disk is applied before NATS is tried, so a
// restarted agent serves while the control plane or the uplink is away.
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Accelerator, Assignment, HostInfo } from '@edgeplane/api';
import type { AgentConfig } from './config.ts';
import { AGENT_VERSION } from './version.ts';
import { discover } from './hardware/discover.ts';
import { createLiveProbe, type LiveProbe } from './hardware/live.ts';
import { createAssignmentStore, isStateFileError, type AssignmentStore } from './state/assignment-store.ts';
import { TrustPolicy } from './artifacts/trust.ts';
import { connectNats } from './fleet/connect.ts';
import { startFleetSession, type FleetSession } from './fleet/session.ts';
import type { ServeGrant } from './serve/nats.ts';
import { enrolAndKeep, planIdentity, resolveCa } from './trust/bootstrap.ts';
import { isIdentityError, type IdentityError } from './trust/errors.ts';
import { NodeIdentity } from './trust/identity.ts';
import type { WorkloadManager, WorkloadManagerOptions } from './workloads/types.ts';

export interface AgentDeps {
  /** Parent logger; the agent logs through a child with the node as a field. */
  log: Logger;
  /** Builds the workload side, before any NATS connection exists. */
  createManager(options: WorkloadManagerOptions & { node: string; log: Logger }): WorkloadManager | Promise<WorkloadManager>;
  /** Told when NATS first connects (nats.js reconnects the same connection after that). */
  onNatsConnected?(nc: NatsConnection): void;
  /** Starts the local inference endpoint, if any; returns its closer. */
  startServing?(manager: WorkloadManager, log: Logger): Promise<() => Promise<void>>;
  /** Hello retry and resync pacing, for tests; production uses the defaults. */
  session?: { helloBackoff?: { initialMs: number; maxMs: number }; assignmentResyncMs?: number };
}

export interface RunningAgent {
  readonly node: string;
  readonly bootId: string;
  readonly host: HostInfo;
  readonly accelerators: readonly Accelerator[];
  readonly manager: WorkloadManager;
  readonly store: AssignmentStore;
  /** Where the first assignment came from: the state dir, or nowhere yet. */
  readonly startedFrom: 'disk' | 'none';
  /** The fleet session once NATS answered; null while it has not. */
  session(): FleetSession | null;
  /** Resolves when the fleet session exists (NATS connected). */
  connected(): Promise<FleetSession>;
  /** The node's credential and its renewal; null when insecure or not enrolled yet. */
  identity(): NodeIdentity | null;
  /**
   * Resolves when the agent gave up on NATS for a reason only an operator can fix (the
   * server is not signed by the pinned CA); it keeps serving what it has meanwhile.
   */
  readonly failed: Promise<IdentityError>;
  stop(): Promise<void>;
}

export async function startAgent(config: AgentConfig, deps: AgentDeps): Promise<RunningAgent> {
  const node = config.node;
  // Every line the agent and its workload manager log carries the node.
  const log = deps.log.child({ node });
  const bootId = randomUUID();
  const found = await discover({ root: config.root, ...(config.overrideFile ? { overrideFile: config.overrideFile } : {}) });
  log.info({ accelerators: found.accelerators.map((a) => `${a.id}:${a.type}:${a.model ?? ''}`), power: found.power, network: found.network }, 'hardware discovered');
  const live: LiveProbe = createLiveProbe({ root: config.root, ...(config.overrideFile ? { overrideFile: config.overrideFile } : {}), override: found.override, log });

  let nc: NatsConnection | null = null;
  // Local files only: no identity at all, or a bad credential or token, stops the agent here.
  const plan = await planIdentity(config, log);
  let identity: NodeIdentity | null = plan.kind === 'credentials' ? new NodeIdentity({ node, stateDir: config.stateDir, log, credentials: plan.credentials }) : null;
  if (plan.kind === 'insecure') {
    log.warn({ setting: '--insecure-nats (EP_AGENT_INSECURE_NATS)', nats: config.natsUrl }, 'INSECURE: NATS without a credential; anyone on the bus can speak for this node. A lab only.');
  } else if (plan.kind === 'credentials') {
    log.info({ source: plan.source, file: plan.credentials.file, publicKey: identity?.publicKey, expiresAtS: plan.credentials.claims.expiresAtS, tags: plan.credentials.claims.tags }, 'node credential');
  }
  // Serving waits for the deployment's grant in the credential; the identity may come later (enrolment).
  const serveGrant: ServeGrant | undefined =
    plan.kind === 'insecure'
      ? undefined
      : {
          ensure: (d) => identity?.ensure(d) ?? Promise.resolve(false),
          onRenewed: (cb) => identity?.onRenewed(cb) ?? (() => undefined),
          // Joint inference: hard inputs go to an escalation tier only under an `escalate:` grant.
          mayEscalate: (d) => identity?.hasEscalateGrant(d) ?? false,
          ensureEscalate: (d) => identity?.ensureEscalate(d) ?? Promise.resolve(false),
        };
  // Key files are read once, here: a bad one stops the agent before it serves anything.
  const trust = await TrustPolicy.load(config.trust);
  log.info({ requireSignature: trust.requireSignature, publicKeys: trust.keys.map((k) => k.source) }, 'model signature policy');
  const limits = { fileRoots: config.fileRoots, maxPayloadBytes: config.maxRequestBytes, maxTensorElements: config.maxTensorElements };
  // Set once the fleet session runs; until then a change waits for the first heartbeat.
  let nudgeHeartbeat: () => void = () => undefined;
  // Downloads are free link samples for the probe policy once the session runs.
  let observeTransfer: (bytes: number, elapsedMs: number) => void = () => undefined;
  const manager = await deps.createManager({
    accelerators: found.accelerators,
    cacheDir: config.cacheDir,
    cacheMaxBytes: config.cacheMaxBytes,
    ...limits,
    trust,
    node,
    log,
    ...(serveGrant ? { serveGrant } : {}),
    onReportChange: () => nudgeHeartbeat(),
    metered: () => live.metered(),
    onTransfer: (bytes, elapsedMs) => observeTransfer(bytes, elapsedMs),
  });
  const stopServing = deps.startServing ? await deps.startServing(manager, log) : null;

  // Applies run one at a time, in arrival order; each applied one is kept on disk.
  const store = createAssignmentStore(config.stateDir, node);
  let applying: Promise<void> = Promise.resolve();
  const apply = (assignment: Assignment, revision: number, save: boolean): Promise<void> => {
    const next = applying.then(async () => {
      await manager.apply(assignment);
      log.info({ revision, workloads: assignment.workloads.map((w) => `${w.key}:${w.variant.name}@${w.accelerator}`) }, 'assignment applied');
      if (save) await store.save(assignment, revision);
    });
    applying = next.catch(() => undefined);
    return next;
  };

  let initialRevision: number | undefined;
  let initialIssuedAtMs: number | undefined;
  let startedFrom: RunningAgent['startedFrom'] = 'none';
  try {
    const stored = await store.load();
    if (stored) {
      await apply(stored.assignment, stored.revision, false);
      initialRevision = stored.revision;
      initialIssuedAtMs = stored.assignment.issuedAtMs;
      startedFrom = 'disk';
      log.info({ revision: stored.revision, savedAtMs: stored.savedAtMs }, 'serving the assignment kept on disk');
    }
  } catch (err) {
    if (!isStateFileError(err)) throw err;
    log.warn({ err }, 'ignoring the state file; waiting for the control plane');
  }

  let session: FleetSession | null = null;
  let stopping = false;
  let resolveConnected: (s: FleetSession) => void = () => undefined;
  const connectedPromise = new Promise<FleetSession>((resolve) => (resolveConnected = resolve));

  let resolveFailed: (err: IdentityError) => void = () => undefined;
  const failed = new Promise<IdentityError>((resolve) => (resolveFailed = resolve));

  const abort = new AbortController();
  /** The CA, then a credential (enrolling if the plan says so), then the connection; null when stopped. */
  const establish = async (): Promise<NatsConnection | null> => {
    const caPem = await resolveCa(config, log, abort.signal);
    if (caPem === null) return null;
    if (plan.kind === 'enrol') {
      // The config check guarantees a CA for enrolment (--ca-hash or --nats-ca).
      const credentials = await enrolAndKeep(config, plan.join, caPem!, log, abort.signal);
      if (!credentials) return null;
      identity = new NodeIdentity({ node, stateDir: config.stateDir, log, credentials });
    }
    return connectNats({
      url: config.natsUrl,
      node,
      log,
      signal: abort.signal,
      ...(identity ? { authenticator: identity.authenticator() } : {}),
      ...(caPem !== undefined ? { caPem } : {}),
    });
  };
  const connecting = establish().then(
    async (conn) => {
      if (!conn) return;
      if (stopping) {
        await conn.close();
        return;
      }
      nc = conn;
      identity?.attach(conn);
      log.info({ server: conn.getServer() }, 'connected to NATS');
      deps.onNatsConnected?.(conn);
      session = startFleetSession({
        nc: conn,
        node,
        log,
        hello: async () => {
          const state = await live.read();
          return {
            v: 1,
            node,
            agentVersion: AGENT_VERSION,
            bootId,
            host: found.host,
            accelerators: found.accelerators,
            power: state.power,
            network: state.network,
            cachedArtifacts: manager.cachedArtifacts(),
            labels: state.labels,
          };
        },
        telemetry: async () => {
          const state = await live.read();
          return { power: state.power, network: state.network, load: manager.load(), workloads: manager.reports(), cachedArtifacts: manager.cachedArtifacts() };
        },
        conditions: async () => {
          const state = await live.read();
          return { power: state.power, network: state.network };
        },
        workloads: () => manager.reports(),
        onAssignment: (assignment, revision) => apply(assignment, revision, true),
        ...(initialRevision !== undefined ? { initialRevision } : {}),
        ...(initialIssuedAtMs !== undefined ? { initialIssuedAtMs } : {}),
        linkProbeIntervalMs: config.linkProbeIntervalMs,
        onLinkMeasured: (m) => live.setMeasured(m),
        metered: () => live.metered(),
        ...(deps.session?.helloBackoff ? { helloBackoff: deps.session.helloBackoff } : {}),
        ...(deps.session?.assignmentResyncMs ? { assignmentResyncMs: deps.session.assignmentResyncMs } : {}),
      });
      const started = session;
      nudgeHeartbeat = () => started.nudge();
      observeTransfer = (bytes, elapsedMs) => started.observeTransfer(bytes, elapsedMs);
      resolveConnected(session);
    },
    (err: unknown) => {
      if (isIdentityError(err) && err.fatal) {
        log.fatal({ err, code: err.code }, 'not connecting to NATS; an operator must fix the setting');
        resolveFailed(err);
        return;
      }
      log.error({ err }, 'cannot connect to NATS');
    },
  );

  return {
    node,
    bootId,
    host: found.host,
    accelerators: found.accelerators,
    manager,
    store,
    startedFrom,
    session: () => session,
    connected: () => connectedPromise,
    identity: () => identity,
    failed,
    async stop() {
      stopping = true;
      abort.abort();
      await connecting;
      identity?.close();
      await session?.close();
      const conn = nc as NatsConnection | null;
      // Before the first connection, connect() keeps retrying until closed; nothing to close yet.
      if (conn && !conn.isClosed()) await conn.drain().catch(() => conn.close());
      await applying;
      await stopServing?.();
      await manager.close();
      log.info('agent stopped');
    },
  };
}

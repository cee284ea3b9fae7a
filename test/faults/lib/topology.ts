// The layout the fault scenarios run on, as a fleet with sites runs it: three clustered
// nats-servers (JetStream on file storage, KV and object store replicated three ways), one
// site leaf node with a mirror of the assignments bucket in its own JetStream domain, and Redis
// behind Sentinel (a primary, a replica, three sentinels). Every NATS server is in operator
// mode with JWT authentication and TLS, as startNats() is.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { stores } from '@edgeplane/api';
import {
  startNatsCluster,
  startRedisSentinel,
  type NatsCluster,
  type NatsServer,
  type RedisSentinelOptions,
  type RedisSentinelSet,
  type ToxiproxyServer,
} from '@edgeplane/env';
import type { Redis } from 'ioredis';
import { controlPlaneNats, type NatsSettings } from '@edgeplane/env';
import type { Config } from '../../../control-plane/src/config.ts';

/** The site the leaf node serves (its JetStream domain, and the zone label of its nodes). */
export const SITE = 'site-a';
/** Copies of each bucket on the three hub servers. */
export const REPLICAS = 3;

export interface TopologyOptions {
  /** Sentinel timings; by default a primary silent for 5 s is failed over. */
  redis?: RedisSentinelOptions;
  /** Route the leaf's uplink through Toxiproxy, so a scenario can cut the site off. */
  toxiproxy?: ToxiproxyServer;
}

/** What a control plane needs to reach this layout: NATS, Redis through Sentinel, R3 buckets. */
export type ControlPlaneSettings = NatsSettings &
  Required<Pick<Config, 'insecureNats' | 'redisUrl' | 'redisSentinels' | 'redisMasterName' | 'kvReplicas'>>;

export interface Topology {
  cluster: NatsCluster;
  /** The hub servers: the control plane and agents outside the site connect here. */
  hub: NatsServer;
  /** The site's leaf node: agents at the site connect here. */
  site: NatsServer;
  redis: RedisSentinelSet;
  /** Settings for `testConfig`: one hub server's URL (the control plane learns the others). */
  controlPlane(): Promise<ControlPlaneSettings>;
  /** The control plane's settings as a child process's environment. */
  controlPlaneEnv(): Promise<Record<string, string>>;
  /** An administrator's connection to the hub, closed by stop(). */
  admin(): Promise<NatsConnection>;
  /** The model store (`ep-models`), created replicated three ways on first use. */
  models(): Promise<ObjectStore>;
  /** A client of Redis through the sentinels (follows a failover), disconnected by stop(). */
  redisClient(): Promise<Redis>;
  /**
   * Mirrors the assignments bucket at the site, as an operator sets a site up; call once the
   * control plane has created the bucket, before agents at the site start.
   */
  mirrorAssignmentsAtSite(): Promise<void>;
  stop(): Promise<void>;
}

/** The cluster with its site leaf, once JetStream has a leader and the leaf is linked. */
async function startCluster(options: TopologyOptions, attempt = 1): Promise<NatsCluster> {
  const cluster = await startNatsCluster({ site: SITE, ...(options.toxiproxy ? { toxiproxy: options.toxiproxy } : {}) });
  try {
    // Generous: a meta leader election is slow when the machine's cores are all busy.
    await Promise.all([cluster.waitForJetStream(60_000), cluster.waitForLeaf(30_000)]);
    return cluster;
  } catch (err) {
    await cluster.stop();
    // A server that exited at start (a port it was given taken meanwhile by another process on
    // the machine) gets one more try on fresh ports; a slow election does not.
    const exited = [...cluster.servers, cluster.leafServer].some((m) => m && !m.alive());
    if (!exited || attempt > 1) throw err;
    console.warn(`[topology] NATS cluster start failed, starting it again on fresh ports: ${(err as Error).message}`);
    return startCluster(options, attempt + 1);
  }
}

export async function startTopology(options: TopologyOptions = {}): Promise<Topology> {
  const [natsStart, redisStart] = await Promise.allSettled([
    startCluster(options),
    // Not the environment's 1 s: on a machine whose cores are all busy a primary can be slow to
    // answer that long, and a failover nobody asked for (its last writes lost) is not what the
    // other scenarios test.
    startRedisSentinel({ downAfterMs: 5000, ...options.redis }),
  ]);
  if (natsStart.status === 'rejected' || redisStart.status === 'rejected') {
    // Whichever started is stopped, so a failed start leaves no servers behind.
    await Promise.all([natsStart.status === 'fulfilled' && natsStart.value.stop(), redisStart.status === 'fulfilled' && redisStart.value.stop()]);
    throw natsStart.status === 'rejected' ? natsStart.reason : (redisStart as PromiseRejectedResult).reason;
  }
  const cluster = natsStart.value;
  const redis = redisStart.value;
  const connections: NatsConnection[] = [];
  const clients: Redis[] = [];
  const stop = async () => {
    clients.forEach((c) => c.disconnect());
    await Promise.all(connections.map((nc) => nc.close().catch(() => {})));
    await Promise.all([cluster.stop(), redis.stop()]);
  };
  let adminConnection: Promise<NatsConnection> | undefined;
  let modelStore: Promise<ObjectStore> | undefined;
  // Keeps reconnecting: scenarios restart servers under it.
  const admin = () => {
    adminConnection ??= cluster.hub
      .connectOptions('admin')
      .then((o) => connect({ ...o, maxReconnectAttempts: -1, reconnectTimeWait: 250 }))
      .then((nc) => {
        connections.push(nc);
        return nc;
      });
    return adminConnection;
  };
  const controlPlane = async (): Promise<ControlPlaneSettings> => ({
    ...(await controlPlaneNats(cluster.hub)),
    natsUrl: cluster.servers[0]!.url,
    kvReplicas: REPLICAS,
    // The host is never used: the sentinels name the primary.
    redisUrl: 'redis://sentinel-managed',
    redisSentinels: redis.sentinels.map((s) => ({ host: s.host, port: s.port })),
    redisMasterName: redis.masterName,
  });
  return {
    cluster,
    hub: cluster.hub,
    site: cluster.leaf!,
    redis,
    controlPlane,
    async controlPlaneEnv() {
      const s = await controlPlane();
      return {
        EP_NATS_URL: s.natsUrl,
        EP_NATS_CREDS: s.natsCreds,
        EP_NATS_CA: s.natsCa,
        EP_KV_REPLICAS: String(s.kvReplicas),
        EP_REDIS_URL: s.redisUrl,
        EP_REDIS_SENTINELS: redis.sentinelsText,
        EP_REDIS_MASTER_NAME: s.redisMasterName,
      };
    },
    admin,
    models() {
      modelStore ??= admin().then((nc) => new Objm(nc).create(stores.models, { storage: 'file', replicas: REPLICAS }));
      return modelStore;
    },
    async redisClient() {
      const client = redis.client();
      client.on('error', () => {});
      clients.push(client);
      await client.connect();
      return client;
    },
    mirrorAssignmentsAtSite: () => cluster.mirrorAtSite(stores.assignments),
    stop,
  };
}

// The dashboard's server side, put together once per control-plane replica.
import type { EdgeModelDeployment, EdgeNode } from '@edgeplane/api';
import type { EventsV1Api } from '@kubernetes/client-node';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { TelemetryStore } from '../fleet/telemetry-store.ts';
import type { PlacementStore } from '../reconcile/placement-store.ts';
import { EventReader } from './events.ts';
import { HistoryStore } from './history-store.ts';
import { FleetModel, type Cache } from './model.ts';
import { defaultDashboardDir, type DashboardPluginOptions } from './plugin.ts';
import { SseHub } from './sse.ts';

export interface DashboardOptions {
  nodes: Cache<EdgeNode>;
  deployments: Cache<EdgeModelDeployment>;
  redis: Redis;
  telemetry: TelemetryStore;
  placements: PlacementStore;
  events?: EventsV1Api;
  registry?: Registry;
  log: Logger;
  gracePeriodMs: number;
  isLeader: () => boolean;
  distDir?: string | undefined;
}

export interface Dashboard {
  model: FleetModel;
  hub: SseHub;
  history: HistoryStore;
  /** For build({ dashboard }). */
  plugin: Omit<DashboardPluginOptions, 'authenticate'>;
  start(): void;
  stop(): void;
}

export function createDashboard(o: DashboardOptions): Dashboard {
  const log = o.log.child({ component: 'dashboard' });
  const history = new HistoryStore(o.redis, log);
  const model = new FleetModel({ nodes: o.nodes, deployments: o.deployments, redis: o.redis, history, gracePeriodMs: o.gracePeriodMs, isLeader: o.isLeader, log });
  const hub = new SseHub({ log, ...(o.registry ? { registry: o.registry } : {}) });
  model.on((e) => hub.offer(e));
  return {
    model,
    hub,
    history,
    plugin: {
      model,
      hub,
      history,
      telemetry: o.telemetry,
      placements: o.placements,
      nodes: o.nodes,
      deployments: o.deployments,
      events: new EventReader(o.events, log),
      distDir: o.distDir ?? defaultDashboardDir(),
      gracePeriodMs: o.gracePeriodMs,
    },
    start() {
      model.start();
      hub.start();
    },
    stop() {
      hub.stop();
      model.stop();
    },
  };
}


// The agent's fleet session when telemetry is slow to read (a loaded machine: 0.3 to 0.7 s
// was seen with 20 agents on two cores): a workload change made while an early heartbeat
// reads telemetry goes out in that heartbeat, and costs no second, empty one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import type { EarlyReason, Heartbeat, WorkloadReport } from '@edgeplane/api';
import { startNats, type NatsServer } from '@edgeplane/env';
import { startFleetSession } from '../../agent/src/fleet/session.ts';
import { controlPlaneResponder, until } from './helpers.ts';

const NODE = 'edge-slow-read-1';
const report = (phase: WorkloadReport['phase']): WorkloadReport => ({ key: 'fleet/cls', variant: 'fp32', accelerator: 'cpu0', phase });

describe('early heartbeats with a slow telemetry read', () => {
  let nats: NatsServer;
  let cp: NatsConnection;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startNats();
    cp = await connect(await nats.connectOptions('control-plane'));
    controlPlaneResponder(cp, { heartbeatIntervalMs: 5000 });
    nc = await connect(await nats.connectOptions({ node: NODE }));
  });

  afterAll(async () => {
    await nc?.close();
    await cp?.close();
    await nats?.stop();
  });

  it('carries a change made during the read and sends nothing more', { timeout: 20_000 }, async () => {
    let workloads: WorkloadReport[] = [];
    const sent: Array<{ hb: Heartbeat; early: EarlyReason[] | null }> = [];
    const session = startFleetSession({
      nc,
      node: NODE,
      log: pino({ level: process.env.DEBUG_SESSION ? 'debug' : 'silent' }),
      hello: async () => ({ v: 1, node: NODE, agentVersion: 'test', bootId: 'b', host: { arch: 'x86_64' }, accelerators: [{ id: 'cpu0', type: 'CPU', precisions: ['fp32'], memoryMiB: 1024, tops: { fp32: 1 } }], power: { source: 'mains' }, network: { type: 'ethernet' }, cachedArtifacts: [], labels: {} }),
      telemetry: async () => {
        await new Promise((r) => setTimeout(r, 300));
        return { power: { source: 'mains' }, network: { type: 'ethernet' }, load: [], workloads, cachedArtifacts: [] };
      },
      workloads: () => workloads,
      conditionsPollMs: 0,
      onAssignment: async () => undefined,
      onHeartbeat: (hb, early) => sent.push({ hb, early }),
    });
    try {
      await session.ready;
      await until(() => sent.length >= 1, 'the first heartbeat');
      workloads = [report('Downloading')];
      session.nudge();
      // Loading while the early heartbeat for Downloading is reading telemetry.
      await new Promise((r) => setTimeout(r, 150));
      workloads = [report('Loading')];
      session.nudge();
      await until(() => sent.some((s) => s.early), 'an early heartbeat');
      await new Promise((r) => setTimeout(r, 1500));
      const early = sent.filter((s) => s.early);
      expect(early.map((s) => s.hb.workloads?.map((w) => w.phase))).toEqual([['Loading']]);
    } finally {
      await session.close();
    }
  });
});

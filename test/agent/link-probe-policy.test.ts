// The agent's fleet session measures its link as the probe policy says, against a real
// nats-server: one full probe at hello, then round-trip checks only (a few empty requests) while
// the link stays the same, and a full probe again when the link changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { inboxPrefix } from '@edgeplane/trust';
import { startNats, type NatsServer } from '@edgeplane/env';
import type { Network } from '@edgeplane/api';
import { startFleetSession, type FleetSession } from '../../agent/src/fleet/session.ts';
import { controlPlaneResponder, testLogger, until, type Responder } from './helpers.ts';

const NODE = 'edge-probe-1';

describe('link probe policy in the fleet session', () => {
  let nats: NatsServer;
  let cp: NatsConnection;
  let agentNc: NatsConnection;
  let responder: Responder;
  let session: FleetSession | undefined;

  beforeAll(async () => {
    nats = await startNats();
    cp = await connect(await nats.connectOptions('control-plane'));
    responder = controlPlaneResponder(cp, { heartbeatIntervalMs: 1000 });
    agentNc = await connect({ ...(await nats.connectOptions({ node: NODE })), inboxPrefix: inboxPrefix.node(NODE), name: NODE });
  });

  afterAll(async () => {
    await session?.close();
    await agentNc?.close();
    await cp?.close();
    await nats?.stop();
  });

  it('probes fully once, checks the round trip after that, and probes again on a new link', async () => {
    let network: Network = { type: 'ethernet' };
    const power = { source: 'mains' as const };
    session = startFleetSession({
      nc: agentNc,
      node: NODE,
      log: testLogger(),
      hello: async () => ({
        v: 1,
        node: NODE,
        agentVersion: 'test',
        bootId: 'b',
        host: { arch: 'x64' },
        accelerators: [{ id: 'cpu0', type: 'CPU', memoryMiB: 1024, precisions: ['fp32'], tops: {} }],
        power,
        network,
        labels: {},
        cachedArtifacts: [],
      }),
      telemetry: async () => ({ power, network, load: [], workloads: [], cachedArtifacts: [] }),
      onAssignment: async () => undefined,
      // A round-trip check every 300 ms; the session consults the policy every second at most.
      linkProbeIntervalMs: 300,
    });
    await session.ready;
    await until(() => session!.stats().linkProbes === 1, 'the full probe at hello');
    await until(() => session!.stats().linkRttChecks >= 2, 'two round-trip checks', 10_000);
    expect(session.stats().linkProbes).toBe(1);
    // Payloads went out only in the full probe: every later request is empty.
    const fullProbeRequests = responder.probes.findIndex((n, i) => i > 0 && n === 0 && responder.probes[i - 1] !== 0);
    expect(responder.probes.slice(fullProbeRequests).every((n) => n === 0)).toBe(true);
    expect(Math.max(...responder.probes)).toBeGreaterThanOrEqual(8 * 1024);

    network = { type: 'wifi' };
    await until(() => session!.stats().linkProbes === 2, 'a full probe on the new link', 10_000);
    expect(session.stats().linkProbeFrameBytes).toBeGreaterThan(2 * 8 * 1024);
  });
});

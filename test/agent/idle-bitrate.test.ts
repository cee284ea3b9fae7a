// What an idle agent costs its link: heartbeats (deltas and their share of full ones) plus
// NATS protocol lines, counted by a TCP relay between the agent and nats-server. The budget
// is 0.25 kbit/s per idle node at the control plane's default 5 s heartbeat interval.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { stores, subjects } from '@edgeplane/api';
import { startNats, type NatsServer } from '@edgeplane/env';
import { startAgent, type RunningAgent } from '../../agent/src/main.ts';
import { agentNats } from '@edgeplane/env';
import { agentConfig, controlPlaneResponder, countingRelay, fixtureRoot, measureIdleRate, recordingManager, tempDir, testLogger, until, type CountingRelay } from './helpers.ts';

const BUDGET_BITS_PER_SECOND = 250;
const CONTROL_PLANE_INTERVAL_MS = 5000;

describe('idle agent link use', () => {
  let nats: NatsServer;
  let relay: CountingRelay;
  let cp: NatsConnection;
  let agent: RunningAgent | undefined;
  let dir: Awaited<ReturnType<typeof tempDir>>;

  beforeAll(async () => {
    nats = await startNats();
    relay = await countingRelay(nats.port);
    cp = await connect(await nats.connectOptions('control-plane'));
    dir = await tempDir('ep-agent-idle-');
  });

  afterAll(async () => {
    await agent?.stop();
    await relay?.close();
    await cp?.close();
    await nats?.stop();
    await dir?.remove();
  });

  it('stays within 0.25 kbit/s with an assignment running', async () => {
    const node = 'edge-idle-1';
    const kv = await new Kvm(cp).create(stores.assignments, { history: 1, allow_direct: true });
    await kv.put(node, JSON.stringify({ v: 1, node, issuedAtMs: 1, workloads: [] }));
    // Heartbeats come fast here so the test is short; bytes per heartbeat do not depend on the interval.
    controlPlaneResponder(cp, { heartbeatIntervalMs: 250, fullEvery: 12 });
    let count = 0;
    cp.subscribe(subjects.status(node), {
      callback: () => {
        count++;
      },
    });
    const manager = recordingManager();
    // The battery gateway on LTE: the fixture `make up` runs as its smallest node.
    // Through the relay, so TLS records and their overhead are counted as the link carries them.
    const access = { ...(await agentNats(nats, node)), natsUrl: relay.url.replace(/^nats:/, 'tls:') };
    agent = await startAgent(agentConfig({ node, ...access, stateDir: join(dir.path, 'state'), root: fixtureRoot('rpi4-battery') }), { log: testLogger(), createManager: () => manager });
    const session = await agent.connected();
    await session.ready;
    await until(() => manager.applied.length === 1 && count >= 13, 'assignment applied and first cycle sent');

    const rate = await measureIdleRate(relay, () => count, 24);
    const bits = rate.bitsPerSecondAt(CONTROL_PLANE_INTERVAL_MS);
    console.log(
      `[idle] ${rate.heartbeats} heartbeats: ${rate.bytes.toServer} B to server, ${rate.bytes.toClient} B to agent, ` +
        `${rate.bytesPerHeartbeat.toFixed(1)} B per heartbeat on the wire; at a ${CONTROL_PLANE_INTERVAL_MS} ms interval ` +
        `${bits.toFixed(0)} bit/s (budget ${BUDGET_BITS_PER_SECOND})`,
    );
    expect(rate.bytes.toServer).toBeGreaterThan(0);
    expect(bits).toBeLessThanOrEqual(BUDGET_BITS_PER_SECOND);
  });
});

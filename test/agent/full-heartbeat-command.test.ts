// The agent with its own node credential honours the control plane's full-heartbeat command
// on ep.v1.node.<node>.cmd: the next heartbeat is a full one, long before the fullEvery-th.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Heartbeat, NodeCommand, decode, encode, subjects } from '@edgeplane/api';
import { startNats, type NatsServer } from '@edgeplane/env';
import { startAgent, type RunningAgent } from '../../agent/src/main.ts';
import { agentConfig, controlPlaneResponder, recordingManager, tempDir, testLogger, until } from './helpers.ts';
import { agentNats, recordViolations, type Violation } from '@edgeplane/env';

const NODE = 'edge-command-1';

describe('full-heartbeat command', () => {
  let nats: NatsServer;
  let cp: NatsConnection;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let agent: RunningAgent | undefined;
  const heartbeats: Heartbeat[] = [];
  let violations: Violation[] = [];

  beforeAll(async () => {
    nats = await startNats();
    dir = await tempDir('ep-agent-command-');
    cp = await connect(await nats.connectOptions('control-plane'));
    cp.subscribe(subjects.allStatus, {
      callback: (_err, msg) => {
        const d = decode(Heartbeat, 'heartbeat', msg.data);
        if (d.ok) heartbeats.push(d.value);
      },
    });
    // Full heartbeats only every 1000th: any full one after the first is the command's.
    controlPlaneResponder(cp, { heartbeatIntervalMs: 100, fullEvery: 1000 });
    agent = await startAgent(agentConfig({ node: NODE, ...(await agentNats(nats, NODE)), stateDir: dir.path }), {
      log: testLogger(),
      createManager: () => recordingManager(),
    });
    await (await agent.connected()).ready;
  });

  afterAll(async () => {
    await agent?.stop();
    await cp?.close();
    await nats?.stop();
    await dir?.remove();
  });

  it('makes the next heartbeat full, and the node credential may subscribe to its own commands only', async () => {
    await until(() => heartbeats.length >= 5, 'five heartbeats');
    expect(heartbeats.filter((h) => h.full)).toHaveLength(1);
    const before = heartbeats.length;
    cp.publish(subjects.command(NODE), encode(NodeCommand, 'node command', { v: 1, op: 'full-heartbeat' }));
    const full = await until(() => heartbeats.slice(before).find((h) => h.full), 'a full heartbeat after the command');
    // One interval or two, not the thousandth.
    expect(full.seq - heartbeats[before - 1]!.seq).toBeLessThanOrEqual(3);
    expect(full.power).toBeDefined();
    expect(full.network).toBeDefined();

    // The node's credential may subscribe to its own command subject, not another node's,
    // and may not publish commands at all.
    const node = await connect(await nats.connectOptions({ node: NODE }));
    violations = recordViolations(node);
    node.subscribe(subjects.command(NODE));
    node.subscribe(subjects.command('someone-else'));
    node.publish(subjects.command(NODE), encode(NodeCommand, 'node command', { v: 1, op: 'full-heartbeat' }));
    await node.flush();
    await until(() => violations.length >= 2, 'permission violations');
    await node.close();
    expect(violations.map((v) => `${v.operation} ${v.subject}`).sort()).toEqual([`publish ${subjects.command(NODE)}`, `subscription ${subjects.command('someone-else')}`]);
  });
});

// A lost heartbeat delta, end to end: the real agent (own node credential, TLS nats-server)
// sends its heartbeats; the control plane's ingestor (real Redis) receives them through a tap
// that drops one delta carrying a change, as core NATS may. Invariant: the control plane's view
// of the node equals the node's state again by the first heartbeat after the one that shows
// the gap: within one interval plus the full-heartbeat command's round trip of the gap being
// seen (two intervals of the lost delta), not at the node's periodic full heartbeat (every
// 1000th here). A second gap within the
// per-node request pace is left to that periodic one, so requests stay bounded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { Heartbeat, decode, subjects, type AcceleratorLoad } from '@edgeplane/api';
import { createMetrics, HeartbeatIngestor, MalformedReporter, TelemetryStore } from '@edgeplane/control-plane';
import { agentNats, startNats, startRedis, type NatsServer, type RedisServer } from '@edgeplane/env';
import { startAgent, type RunningAgent } from '../../agent/src/main.ts';
import { agentConfig, controlPlaneResponder, recordingManager, tempDir, testLogger, until } from './helpers.ts';

const NODE = 'edge-gap-1';
const INTERVAL_MS = 300;

interface Seen {
  hb: Heartbeat;
  atMs: number;
  dropped: boolean;
}

describe('heartbeat gap repair', () => {
  let nats: NatsServer;
  let redisServer: RedisServer;
  let redis: Redis;
  let cp: NatsConnection;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let agent: RunningAgent | undefined;
  let ingestor: HeartbeatIngestor;
  const metrics = createMetrics();
  const seen: Seen[] = [];
  /** The node's accelerator queue, as its workload manager reports it. */
  let queue = 0;
  /** Set to drop the next heartbeat that carries the load section. */
  let dropNextLoad = false;

  beforeAll(async () => {
    [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
    redis = new Redis(redisServer.url);
    dir = await tempDir('ep-agent-gap-');
    cp = await connect(await nats.connectOptions('control-plane'));
    const log = testLogger();
    // The second gap below comes within a minute of the first: the per-node pace refuses it.
    ingestor = new HeartbeatIngestor({ nc: cp, store: new TelemetryStore(redis), metrics, malformed: new MalformedReporter(metrics, log), log, gapRepair: { perNodeMs: 60_000 } });
    cp.subscribe(subjects.allStatus, {
      callback: (_err, msg) => {
        const d = decode(Heartbeat, 'heartbeat', msg.data);
        if (!d.ok) return;
        const dropped = dropNextLoad && d.value.load !== undefined && !d.value.full;
        if (dropped) dropNextLoad = false;
        seen.push({ hb: d.value, atMs: Date.now(), dropped });
        if (!dropped) ingestor.ingest(msg.subject, msg.data);
      },
    });
    // Full heartbeats only every 1000th: any full one after the first is a repair.
    controlPlaneResponder(cp, { heartbeatIntervalMs: INTERVAL_MS, fullEvery: 1000 });
    const manager = recordingManager();
    manager.load = (): AcceleratorLoad[] => [{ id: 'cpu0', util: 0, queue }];
    agent = await startAgent(agentConfig({ node: NODE, ...(await agentNats(nats, NODE)), stateDir: dir.path }), {
      log: testLogger(),
      createManager: () => manager,
    });
    await (await agent.connected()).ready;
  });

  afterAll(async () => {
    await agent?.stop();
    await ingestor?.stop();
    await cp?.close();
    redis?.disconnect();
    await Promise.all([nats?.stop(), redisServer?.stop()]);
    await dir?.remove();
  });

  const storedQueue = async () => (await new TelemetryStore(redis).read(NODE))?.load?.[0]?.queue;
  const gaps = async (outcome: string) => (await metrics.heartbeatGaps.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;

  it('asks for a full heartbeat on a gap, and the view matches the node within an interval plus the round trip of seeing it', async () => {
    await until(() => seen.filter((s) => !s.hb.full).length >= 3, 'three deltas after the first full heartbeat');
    await ingestor.drained();
    expect(await storedQueue()).toBe(0);

    dropNextLoad = true;
    queue = 3;
    const lost = await until(() => seen.find((s) => s.dropped), 'the dropped delta');
    expect(lost.hb.load?.[0]?.queue).toBe(3);
    const repairedAt = await until(async () => ((await storedQueue()) === 3 ? Date.now() : 0), 'the control plane to see queue 3');
    const repair = seen.find((s) => s.hb.seq > lost.hb.seq && s.hb.full);
    expect(repair).toBeDefined();
    // The beat after the lost one shows the gap; the one after that is full (one more if the
    // command reached the agent just after its tick).
    expect(repair!.hb.seq - lost.hb.seq).toBeLessThanOrEqual(3);
    expect(repair!.hb.load?.[0]?.queue).toBe(3);
    expect(await gaps('requested')).toBe(1);
    // Wall time, loosely (a loaded machine): one interval plus the round trip from the beat that
    // showed the gap, well under the periodic full heartbeat's 1000 intervals.
    const revealed = seen.find((s) => s.hb.seq === lost.hb.seq + 1);
    expect(revealed).toBeDefined();
    expect(repairedAt - revealed!.atMs).toBeLessThan(INTERVAL_MS + 2000);
  });

  it('leaves a second gap within the node\'s request pace to the periodic full heartbeat', async () => {
    const before = seen.length;
    dropNextLoad = true;
    queue = 5;
    const lost = await until(() => seen.slice(before).find((s) => s.dropped), 'the second dropped delta');
    await until(() => seen.filter((s) => s.hb.seq > lost.hb.seq + 3).length > 0, 'three more heartbeats');
    await ingestor.drained();
    expect(await gaps('limited')).toBe(1);
    expect(await gaps('requested')).toBe(1);
    expect(seen.slice(before).some((s) => s.hb.full)).toBe(false);
    // Without a request the control plane keeps the stale section: the repair above is what fixed it.
    expect(await storedQueue()).toBe(3);
  });
});

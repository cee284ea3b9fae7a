// Heartbeat ingestion while Redis is stalled (a real redis-server, writes paused with CLIENT
// PAUSE): the backlog stays bounded, drops are counted, and everything flows again afterwards.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { encode, Heartbeat, subjects } from '@edgeplane/api';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, HeartbeatIngestor, MalformedReporter, TelemetryStore } from '@edgeplane/control-plane';
import { startNats, startRedis, type NatsServer, type RedisServer } from '@edgeplane/env';

let redisServer: RedisServer;
let natsServer: NatsServer;
let redis: Redis;
let admin: Redis;
let nc: NatsConnection;

beforeAll(async () => {
  [redisServer, natsServer] = await Promise.all([startRedis(), startNats({ jetstream: false })]);
  redis = new Redis(redisServer.url);
  admin = new Redis(redisServer.url);
  nc = await connect(await natsServer.connectOptions('control-plane'));
});

afterAll(async () => {
  await nc?.close();
  redis?.disconnect();
  admin?.disconnect();
  await Promise.all([redisServer?.stop(), natsServer?.stop()]);
});

const beat = (seq: number) => encode(Heartbeat, 'heartbeat', { v: 1, seq, power: { source: 'battery', batteryPercent: seq % 100 } });

describe('heartbeat ingestion with Redis stalled', () => {
  it('drops the oldest waiting batches beyond the bound, counts them, and recovers', async () => {
    const metrics = createMetrics();
    const log = pino({ level: 'silent' });
    const ingestor = new HeartbeatIngestor({
      nc,
      store: new TelemetryStore(redis),
      metrics,
      malformed: new MalformedReporter(metrics, log),
      log,
      maxBatch: 10,
      maxInFlight: 1,
      maxWaiting: 3,
    });
    await admin.call('CLIENT', 'PAUSE', '1500', 'WRITE');
    // 100 heartbeats in batches of 10: one in flight, 3 may wait, the other 6 batches are dropped.
    for (let i = 0; i < 100; i++) ingestor.ingest(subjects.status(`node-${i}`), beat(i));
    const dropped = async () => (await metrics.heartbeatsDropped.get()).values[0]?.value ?? 0;
    expect(await dropped()).toBe(60);

    await ingestor.drained();
    expect(ingestor.ingested).toBe(40);
    // Flowing again once Redis answers: nothing more is dropped.
    for (let i = 0; i < 20; i++) ingestor.ingest(subjects.status(`node-${i}`), beat(i + 1));
    await ingestor.drained();
    expect(ingestor.ingested).toBe(60);
    expect(await dropped()).toBe(60);
    expect(await redis.exists('ep:node:node-99')).toBe(1);
  });
});

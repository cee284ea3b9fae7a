// Redis behind Sentinel as the environment starts it: when the primary is SIGKILLed the
// sentinels promote the replica, and a client through the sentinels keeps every write that
// had reached the replica and writes to the new primary.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startRedisSentinel, type RedisSentinelSet } from '@edgeplane/env';

let set: RedisSentinelSet;

beforeAll(async () => {
  set = await startRedisSentinel();
});

afterAll(async () => {
  await set?.stop();
});

it('fails over to the replica when the primary is killed', async () => {
  const client = set.client();
  client.on('error', () => {});
  await client.connect();
  const first = await set.primary();
  expect(first.port).toBe(set.servers[0]!.port);
  await client.set('before', '1');
  expect(await client.wait(1, 2000)).toBe(1); // on the replica before the crash

  await set.servers[0]!.process().kill('SIGKILL');
  const promoted = await set.waitForFailover(first, 20_000);
  expect(promoted.port).toBe(set.servers[1]!.port);

  // The client finds the new primary through the sentinels by itself.
  await expect.poll(() => client.set('after', '2').catch(() => null), { timeout: 10_000, interval: 200 }).toBe('OK');
  expect(await client.get('before')).toBe('1');
  client.disconnect();

  // The old primary comes back as a replica of the new one.
  await set.servers[0]!.restart();
  await expect.poll(async () => (await set.primary()).port, { timeout: 5000 }).toBe(set.servers[1]!.port);
});

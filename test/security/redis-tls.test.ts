// Redis over TLS, the option for a Redis that is not on the control plane's own host: the
// control plane verifies the server against the CA it is given, and refuses one it cannot
// verify rather than talk to it in the clear.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { kubeConfig, startNats, startRedis, type NatsServer, type RedisServer } from '@edgeplane/env';
import { controlPlaneNats } from '@edgeplane/env';
import { ensureNamespace, runId, testConfig, waitReady } from '../helpers/control-plane.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/index.ts';

const run = runId('cp-redis-tls');
const kube = inject('kube');
let nats: NatsServer;
let redis: RedisServer;
let cp: ControlPlane | undefined;

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis({ tls: true })]);
  await ensureNamespace(kubeConfig(kube), run);
});

afterAll(async () => {
  await cp?.stop();
  await Promise.all([nats?.stop(), redis?.stop()]);
});

describe('control plane and a Redis served over TLS', () => {
  it('serves TLS only: the URL is rediss://', () => {
    expect(redis.url).toMatch(/^rediss:\/\/127\.0\.0\.1:\d+$/);
  });

  it('refuses to start when it cannot verify the server (no CA given)', async () => {
    const config = testConfig({ ...(await controlPlaneNats(nats)), redisUrl: redis.url, kubeconfigPath: kube.kubeconfigPath, run });
    await expect(startControlPlane(config)).rejects.toThrow(/cannot connect to Redis at rediss:\/\/127\.0\.0\.1/);
  });

  it('starts and becomes ready with the CA', async () => {
    const config = testConfig({ ...(await controlPlaneNats(nats)), redisUrl: redis.url, redisCa: redis.caFile!, kubeconfigPath: kube.kubeconfigPath, run });
    cp = await startControlPlane(config);
    await waitReady(cp.address);
  });
});

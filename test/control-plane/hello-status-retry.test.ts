// An EdgeNode created without a hello's status (its status write lost: a loaded API server, a
// Lease lost between the create and the status) is never Ready, and the agent, answered already,
// never says hello again. The hello's status write of such a node is retried until it lands,
// not given up after a few tries as a refresh of a node already recorded is.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { decode, encode, EN_KIND, EN_PLURAL, GROUP, Hello, HelloReply, PROTOCOL_VERSION, subjects, VERSION, type EdgeNode } from '@edgeplane/api';
import { kubeConfig, startNats, startRedis, type NatsServer, type RedisServer } from '@edgeplane/env';
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { HELLO_RETRY_MS, HelloResponder } from '../../control-plane/src/fleet/hello.ts';
import { MalformedReporter } from '../../control-plane/src/fleet/malformed.ts';
import { TelemetryStore } from '../../control-plane/src/fleet/telemetry-store.ts';
import { StatusWriter } from '../../control-plane/src/kube/status-writer.ts';
import { createMetrics } from '../../control-plane/src/metrics.ts';
import { waitFor } from '../helpers/agent.ts';
import { customObjects, gpu, runId } from '../helpers/control-plane.ts';

const run = runId('cp-hello-status');
const kube = inject('kube');
const kc = kubeConfig(kube);
const custom = customObjects(kc);
const log = pino({ level: 'silent' });
let nats: NatsServer;
let redisServer: RedisServer;
let redis: Redis;
let nc: NatsConnection;
let responder: HelloResponder | undefined;
let poll: NodeJS.Timeout | undefined;

const labels = { 'edgeplane.io/test-run': run };
const helloOf = (node: string): Hello => ({
  v: PROTOCOL_VERSION,
  node,
  agentVersion: 'status-retry',
  bootId: 'b',
  host: { arch: 'x64' },
  accelerators: [gpu()],
  power: { source: 'mains' },
  network: { type: 'ethernet' },
  labels,
  cachedArtifacts: [],
});

const read = (name: string): Promise<EdgeNode | null> =>
  custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: EN_PLURAL, name }).then(
    (o) => o as EdgeNode,
    () => null,
  );

/** The real client, whose first `failures` status writes fail as a loaded API server's time out. */
function losingStatusWrites(failures: number): { api: CustomObjectsApi; failed: () => number } {
  let failed = 0;
  const api = new Proxy(custom, {
    get(target, prop, receiver) {
      if (prop === 'replaceClusterCustomObjectStatus' && failed < failures) {
        return () => {
          failed++;
          return Promise.reject(Object.assign(new Error('HTTP 504: the request timed out'), { code: 504 }));
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { api, failed: () => failed };
}

beforeAll(async () => {
  [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
  redis = new Redis(redisServer.url);
  nc = await connect(await nats.connectOptions('admin'));
});

afterAll(async () => {
  clearInterval(poll);
  await responder?.stop();
  await nc?.close();
  redis?.disconnect();
  await Promise.all([nats?.stop(), redisServer?.stop()]);
});

describe('hello of a node whose EdgeNode has no status', () => {
  it('retries the status write until it lands, past the retries of a mere refresh', async () => {
    const node = `${run}-n`;
    // As a term that created the EdgeNode and lost its status write left it.
    await custom.createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: EN_PLURAL,
      body: { apiVersion: `${GROUP}/${VERSION}`, kind: EN_KIND, metadata: { name: node, labels }, spec: { unschedulable: false } },
    });
    // The replica's cache of that EdgeNode, kept as an informer would.
    const cache = new Map<string, EdgeNode>();
    const refresh = async () => {
      const o = await read(node);
      if (o) cache.set(node, o);
    };
    await refresh();
    poll = setInterval(() => void refresh(), 200);

    // Four lost writes outlast the three retries of a refresh. The schedule is HELLO_RETRY_MS
    // (1 s, 5 s, 15 s) shortened ten times: the count of retries is what this checks.
    const { api, failed } = losingStatusWrites(4);
    const metrics = createMetrics();
    responder = new HelloResponder({
      nc,
      custom: api,
      statusWriter: new StatusWriter({ custom: api, log }),
      store: new TelemetryStore(redis),
      metrics,
      malformed: new MalformedReporter(metrics, log),
      log,
      heartbeatIntervalMs: 5000,
      mayWrite: () => true,
      cached: (n) => cache.get(n) ?? null,
      retryMs: HELLO_RETRY_MS.map((ms) => ms / 10),
    });
    responder.start();
    await nc.flush();

    const reply = decode(HelloReply, 'hello reply', (await nc.request(subjects.hello(node), encode(Hello, 'hello', helloOf(node)), { timeout: 5000 })).data);
    expect(reply.ok && reply.value.accepted).toBe(true);
    await waitFor('the hello status written after four lost writes', async () => (await read(node))?.status?.agentVersion === 'status-retry', 45_000);
    expect(failed()).toBe(4);
    const ready = (await read(node))?.status?.conditions?.find((c) => c.type === 'Ready');
    expect(ready?.status).toBe('True');
  }, 60_000);
});

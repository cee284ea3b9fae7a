// Inference over a real nats-server: request/reply with tensor headers, errors as headers,
// the queue group spreading requests over two agents, and the local KServe endpoint that
// keeps answering while nats-server is down.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { inferHeaders, subjects } from '@edgeplane/api';
import { serveTag } from '@edgeplane/trust';
import { startNats, type NatsServer } from '@edgeplane/env';
import { createWorkloadManager, type WorkloadManagerImpl } from '../../agent/src/workloads/manager.ts';
import { listenHttp } from '../../agent/src/serve/http.ts';
import { CPU, assignment, workload, writeVariant } from '../../agent/src/workloads/fixtures/assignments.ts';

const SUBJECT = subjects.infer('vision', 'tiny');

function request(nc: NatsConnection, tensors: unknown, payload: Uint8Array, timeout = 5000) {
  const h = headers();
  h.set(inferHeaders.tensors, JSON.stringify(tensors));
  return nc.request(SUBJECT, payload, { headers: h, timeout });
}

const row = (v: number[]) => new Uint8Array(new Float32Array(v).buffer);

describe('serving over NATS and HTTP', () => {
  let nats: NatsServer;
  let dir: string;
  let client: NatsConnection;
  const agents: { nc: NatsConnection; manager: WorkloadManagerImpl }[] = [];
  let expected: (r: number[]) => number[];
  let int8: ReturnType<typeof writeVariant>['variant'];

  beforeAll(async () => {
    nats = await startNats({ jetstream: false });
    dir = mkdtempSync(join(tmpdir(), 'ep-serving-'));
    const { variant, model } = writeVariant(dir, 'fp32');
    int8 = writeVariant(dir, 'int8').variant;
    expected = model.expected;
    for (const node of ['edge-a', 'edge-b']) {
      // Each agent with its node credential, entitled to serve this one deployment.
      const nc = await connect({ ...(await nats.connectOptions({ node, tags: [serveTag('vision', 'tiny')] })), name: node, reconnectTimeWait: 200, maxReconnectAttempts: -1 });
      const manager = await createWorkloadManager({ accelerators: [CPU], cacheDir: join(dir, node), cacheMaxBytes: 1e7, fileRoots: [dir], node, nats: nc });
      await manager.apply(assignment([workload(variant)]));
      await manager.settled();
      agents.push({ nc, manager });
    }
    // An inference client in its own account, reaching the agents through the imported service.
    client = await connect({ ...(await nats.connectOptions('client')), reconnectTimeWait: 200, maxReconnectAttempts: -1 });
    await Promise.all(agents.map((a) => a.nc.flush()));
  });

  afterAll(async () => {
    await client?.close();
    for (const a of agents) {
      await a.manager.close();
      await a.nc.close();
    }
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers with output tensors in the header and raw bytes as payload', async () => {
    const r = await request(client, [{ name: 'X', datatype: 'FP32', shape: [1, 4] }], row([1, 2, 0.5, -1]));
    expect(r.headers?.get(inferHeaders.error)).toBe('');
    expect(r.headers?.get(inferHeaders.status)).toBe('200');
    expect(JSON.parse(r.headers?.get(inferHeaders.tensors) ?? '')).toEqual([{ name: 'Y', datatype: 'FP32', shape: [1, 3] }]);
    expect(Array.from(new Float32Array(new Uint8Array(r.data).buffer))).toEqual(expected([1, 2, 0.5, -1]));
    expect(r.headers?.get(inferHeaders.variant)).toBe('fp32');
  });

  const bad = [
    { name: 'wrong datatype', meta: [{ name: 'X', datatype: 'INT32', shape: [1, 4] }], bytes: 16, status: '400', code: 'INVALID_DATATYPE' },
    { name: 'wrong shape', meta: [{ name: 'X', datatype: 'FP32', shape: [1, 2] }], bytes: 8, status: '400', code: 'INVALID_SHAPE' },
    { name: 'wrong size', meta: [{ name: 'X', datatype: 'FP32', shape: [1, 4] }], bytes: 12, status: '400', code: 'INVALID_SIZE' },
    { name: 'malformed header', meta: { not: 'a list' }, bytes: 16, status: '400', code: 'INVALID_REQUEST' },
    { name: 'a header claiming 2^40 elements', meta: [{ name: 'X', datatype: 'FP32', shape: [2 ** 20, 2 ** 20] }], bytes: 16, status: '413', code: 'TENSOR_TOO_LARGE' },
  ];
  for (const c of bad) {
    it(`replies to ${c.name} with ep-status ${c.status} and ${c.code}`, async () => {
      const r = await request(client, c.meta, new Uint8Array(c.bytes));
      expect(r.headers?.get(inferHeaders.status)).toBe(c.status);
      expect(r.headers?.get(inferHeaders.errorCode)).toBe(c.code);
      expect(r.headers?.get(inferHeaders.error)).not.toBe('');
    });
  }

  it('spreads requests over both agents of the queue group, each answered once', async () => {
    const nodes = new Map<string, number>();
    for (let i = 0; i < 60; i++) {
      const r = await request(client, [{ name: 'X', datatype: 'FP32', shape: [1, 4] }], row([i, 1, 0, 0]));
      expect(r.headers?.get(inferHeaders.status)).toBe('200');
      const node = r.headers?.get(inferHeaders.node) ?? '';
      nodes.set(node, (nodes.get(node) ?? 0) + 1);
    }
    expect([...nodes.keys()].sort()).toEqual(['edge-a', 'edge-b']);
    expect([...nodes.values()].reduce((a, b) => a + b, 0)).toBe(60);
  });

  it('switches both agents to int8 under continuous NATS load with zero failed requests', async () => {
    let stop = false;
    const statuses = new Map<string, number>();
    const variants = new Set<string>();
    const loop = async () => {
      for (let i = 0; i < 3000 && !stop; i++) {
        const r = await request(client, [{ name: 'X', datatype: 'FP32', shape: [1, 4] }], row([1, 2, 0.5, -1]));
        const status = r.headers?.get(inferHeaders.status) ?? 'none';
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        variants.add(r.headers?.get(inferHeaders.variant) ?? '');
      }
    };
    const loops = Array.from({ length: 4 }, loop);
    await new Promise((r) => setTimeout(r, 100));
    for (const a of agents) await a.manager.apply(assignment([workload(int8)]));
    for (const a of agents) await a.manager.settled();
    await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await Promise.all(loops);
    expect([...statuses.keys()]).toEqual(['200']);
    expect(variants).toEqual(new Set(['fp32', 'int8']));
    expect(agents.map((a) => a.manager.reports()[0]?.variant)).toEqual(['int8', 'int8']);
  });

  it('keeps answering on the local KServe endpoint while nats-server is down', async () => {
    const http = await listenHttp({ registry: agents[0]!.manager, host: '127.0.0.1', port: 0 });
    try {
      await nats.pause();
      for (let i = 0; i < 5; i++) {
        const r = await fetch(`http://127.0.0.1:${http.port}/v2/models/tiny/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ inputs: [{ name: 'X', shape: [1, 4], datatype: 'FP32', data: [1, 2, 0.5, -1] }] }),
        });
        expect(r.status).toBe(200);
        // int8 since the switch above: within the activation quantisation error of the exact result.
        const got = ((await r.json()) as { outputs: { data: number[] }[] }).outputs[0]?.data ?? [];
        expected([1, 2, 0.5, -1]).forEach((want, j) => expect(Math.abs((got[j] ?? 99) - want)).toBeLessThan(0.05));
      }
      expect((await fetch(`http://127.0.0.1:${http.port}/v2/health/ready`)).status).toBe(200);
    } finally {
      await nats.restart();
      await http.close();
    }
    // Back on NATS after the restart: the subscription survived the reconnect.
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      try {
        const r = await request(client, [{ name: 'X', datatype: 'FP32', shape: [1, 4] }], row([1, 2, 0.5, -1]), 1000);
        ok = r.headers?.get(inferHeaders.status) === '200';
      } catch {
        await new Promise((res) => setTimeout(res, 200));
      }
    }
    expect(ok).toBe(true);
  });
});

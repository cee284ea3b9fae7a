import { afterAll, describe, expect, it } from 'vitest';
import { EdgeModelDeployment, EdgeNode } from '@edgeplane/api';
import { createMetrics } from '../metrics.ts';
import { build, type Readiness } from './app.ts';
import { deploymentSummary, nodeSummary, placementDetail, type ReadModel } from './read-model.ts';
import type { Placement } from '../placement/types.ts';

const now = Date.now();
const node = EdgeNode.parse({
  apiVersion: 'edgeplane.io/v1alpha1',
  kind: 'EdgeNode',
  metadata: { name: 'n1', labels: { site: 'a' }, managedFields: [{ secret: 'x' }] },
  status: { accelerators: [{ id: 'gpu0', type: 'GPU', memoryMiB: 8192, precisions: ['fp16'], tops: { fp16: 10 } }] },
});
const emd = EdgeModelDeployment.parse({
  apiVersion: 'edgeplane.io/v1alpha1',
  kind: 'EdgeModelDeployment',
  metadata: { name: 'det', namespace: 'ns', generation: 2 },
  spec: {
    model: { name: 'det', task: 'detect', variants: [{ name: 'det-fp16', precision: 'fp16', uri: 'https://x/m.onnx', sha256: 'a'.repeat(64), sizeBytes: 1, accuracy: 0.9, gflops: 1, memoryMiB: 10 }] },
    replicas: 1,
    slo: { latencyMs: 20 },
  },
});
const placement: Placement = { deployment: 'ns/det', node: 'n1', accelerator: 'gpu0', variant: 'det-fp16', precision: 'fp16', profile: 'full', cap: 'fp32', predictedP99Ms: 3, tierReason: 'most accurate within the SLO' };
const telemetry = { seq: 3, lastSeenMs: now, power: { source: 'battery' as const, batteryPercent: 40 }, workloads: [{ key: 'ns/det', variant: 'det-fp16', accelerator: 'gpu0', phase: 'Ready' as const, p99Ms: 4.5 }], load: [{ id: 'gpu0', util: 0.25, queue: 0 }] };

const read: ReadModel = {
  nodes: async () => [nodeSummary(node, telemetry, now, 200)],
  deployments: () => [deploymentSummary(emd)],
  deployment: async (ns, name) => (ns === 'ns' && name === 'det' ? { ...deploymentSummary(emd), spec: emd.spec, placements: [placementDetail(placement, telemetry, now, 200)] } : null),
};

let readiness: Readiness = { ready: false, checks: { informers: false, nats: true, redis: true } };
const metrics = createMetrics();
// Routing and serialisation only; auth.test.ts covers who may call what.
const app = build({ readiness: () => readiness, registry: metrics.registry, read, auth: { mode: 'none' } });
afterAll(() => app.close());

describe('HTTP API', () => {
  it('healthz is always ok; readyz follows the checks', async () => {
    expect((await app.inject('/healthz')).json()).toEqual({ ok: true });
    const notReady = await app.inject('/readyz');
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json()).toMatchObject({ ready: false, checks: { informers: false } });
    readiness = { ready: true, checks: { informers: true, nats: true, redis: true } };
    expect((await app.inject('/readyz')).statusCode).toBe(200);
  });

  it('serves Prometheus text with the control-plane metrics', async () => {
    metrics.malformedMessages.inc({ kind: 'heartbeat' }, 3);
    const res = await app.inject('/metrics');
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toContain('edgeplane_malformed_messages_total{kind="heartbeat"} 3');
    expect(res.body).toContain('# TYPE edgeplane_reconcile_duration_seconds histogram');
    expect(res.body).toContain('edgeplane_leader 0');
  });

  it('lists nodes with live telemetry and no undeclared fields', async () => {
    const body = (await app.inject('/api/v1/nodes')).json();
    expect(body.items[0]).toMatchObject({ name: 'n1', ready: true, reachable: true, powerSummary: 'battery 40%', acceleratorSummary: 'GPU' });
    expect(JSON.stringify(body)).not.toContain('managedFields');
  });

  it('shows one deployment with placements and telemetry', async () => {
    const res = await app.inject('/api/v1/deployments/ns/det');
    expect(res.statusCode).toBe(200);
    const d = res.json();
    expect(d).toMatchObject({ namespace: 'ns', name: 'det', replicas: 1, spec: { replicas: 1 } });
    expect(d.placements[0]).toMatchObject({ node: 'n1', phase: 'Ready', tierReason: 'most accurate within the SLO', telemetry: { reachable: true, p99Ms: 4.5, utilization: 0.25 } });
    expect((await app.inject('/api/v1/deployments')).json().items).toHaveLength(1);
  });

  const notFound: { url: string; code: string }[] = [
    { url: '/api/v1/deployments/ns/nope', code: 'DEPLOYMENT_NOT_FOUND' },
    { url: '/api/v1/nodes/nope', code: 'NODE_NOT_FOUND' },
    { url: '/api/v1/nothing', code: 'ROUTE_NOT_FOUND' },
  ];
  for (const row of notFound) {
    it(`404 ${row.code} for ${row.url}`, async () => {
      const res = await app.inject(row.url);
      expect(res.statusCode).toBe(404);
      expect(res.json().code).toBe(row.code);
      expect(typeof res.json().message).toBe('string');
    });
  }
});

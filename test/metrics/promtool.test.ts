// promtool (built from the Prometheus module by @edgeplane/env) on what both components expose
// and on the chart's alerts: `check metrics` lints the exposition text (names, units, help,
// types), `test rules` runs the alerts' unit tests in alerts.test.yaml.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { EdgeModelDeployment } from '@edgeplane/api';
import { goBinary, repoRoot } from '@edgeplane/env';
import { build } from '../../control-plane/src/api/app.ts';
import { createMetrics } from '../../control-plane/src/metrics.ts';
import { WorkQueue } from '../../control-plane/src/reconcile/queue.ts';
import { createAgentMetrics } from '../../agent/src/metrics/index.ts';
import type { ServedModel } from '../../agent/src/serve/registry.ts';
import { chartDir, findObject, render } from '../chart/helm.ts';

const promtool = goBinary('promtool');

function run(args: readonly string[], stdin?: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile(promtool, args, { cwd: repoRoot, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
    });
    child.stdin?.end(stdin ?? '');
  });
}

const emd = EdgeModelDeployment.parse({
  apiVersion: 'edgeplane.io/v1alpha1',
  kind: 'EdgeModelDeployment',
  metadata: { name: 'det', namespace: 'ns' },
  spec: {
    model: { name: 'det', task: 'detect', variants: [{ name: 'det-fp16', precision: 'fp16', uri: 'https://x/m.onnx', sha256: 'a'.repeat(64), sizeBytes: 1, accuracy: 0.9, gflops: 1, memoryMiB: 10 }] },
    replicas: 1,
    slo: { latencyMs: 20 },
  },
  status: { conditions: [{ type: 'Degraded', status: 'True', reason: 'Unschedulable', message: 'no node fits', lastTransitionTime: new Date().toISOString() }] },
});

describe('promtool', () => {
  it('check metrics passes on the control plane\'s /metrics, every family present', async () => {
    const metrics = createMetrics({ defaultMetrics: true });
    metrics.watchDeployments(() => [emd]);
    const queue = new WorkQueue({ metrics: metrics.workQueue, onDepth: (d) => metrics.queueDepth.set(d) });
    metrics.setUnfinished(() => queue.unfinished());
    const done = new Promise<void>((resolve) => queue.start(async () => (resolve(), {})));
    queue.add('ns/det');
    await done;
    await queue.shutdown();
    metrics.reconcileDuration.observe({ outcome: 'success' }, 0.01);
    const app = build({ readiness: () => ({ ready: true, checks: {} }), registry: metrics.registry, read: { nodes: async () => [], deployments: () => [], deployment: async () => null }, auth: { mode: 'none' } });
    try {
      const res = await app.inject({ method: 'GET', url: '/metrics' });
      expect(res.statusCode).toBe(200);
      for (const name of ['workqueue_depth', 'workqueue_adds_total', 'workqueue_queue_duration_seconds', 'workqueue_work_duration_seconds', 'workqueue_retries_total', 'workqueue_unfinished_work_seconds', 'workqueue_longest_running_processor_seconds', 'edgeplane_reconcile_duration_seconds', 'edgeplane_deployment_condition', 'edgeplane_deployment_slo_latency_seconds']) {
        expect(res.body, name).toContain(`# TYPE ${name} `);
      }
      const check = await run(['check', 'metrics'], res.body);
      expect(check.out).toBe('');
      expect(check.code).toBe(0);
    } finally {
      await app.close();
    }
  });

  it('check metrics passes on the agent\'s /metrics', async () => {
    const m = createAgentMetrics({ defaultMetrics: true });
    const model = {
      key: 'ns/det',
      assignment: { key: 'ns/det', namespace: 'ns', deployment: 'det', model: 'det', task: 'detect', variant: { name: 'det-fp16' }, accelerator: 'gpu0', maxBatch: 8, maxQueueDelayMs: 0, latencySloMs: 20 },
      phase: 'Ready',
      ready: true,
      inputs: [],
      outputs: [],
      infer: async () => [],
    } as unknown as ServedModel;
    await m.instrument(model).infer([{ name: 'x', datatype: 'FP32', shape: [4, 3], data: new Uint8Array(48) }]);
    m.watch({
      reports: () => [{ key: 'ns/det', variant: 'det-fp16', accelerator: 'gpu0', phase: 'Ready' }],
      load: () => [{ id: 'gpu0', util: 0.5, queue: 2 }],
      cacheStats: () => ({ usedBytes: 1024, artifacts: 1, hits: 1, misses: 1 }),
    });
    const { body } = await m.scrape();
    expect(body).toContain('edgeplane_agent_inference_requests_total{');
    const check = await run(['check', 'metrics'], body);
    expect(check.out).toBe('');
    expect(check.code).toBe(0);
  });

  it('the chart\'s alerts pass their unit tests, and the chart renders exactly those rules', async () => {
    const result = await run(['test', 'rules', 'test/metrics/alerts.test.yaml']);
    expect(result.out).toContain('SUCCESS');
    expect(result.code).toBe(0);

    const objects = await render({ valuesFiles: [join(chartDir, 'ci', 'metrics-values.yaml')] });
    const rule = findObject(objects, 'PrometheusRule') as unknown as { spec: unknown };
    expect(rule.spec).toEqual(parse(readFileSync(join(chartDir, 'files', 'alerts.yaml'), 'utf8')));
    const dashboard = findObject(objects, 'ConfigMap', 'ep-edgeplane-dashboard') as unknown as { metadata: { labels: Record<string, string> }; data: Record<string, string> };
    expect(dashboard.metadata.labels.grafana_dashboard).toBe('1');
    const json = JSON.parse(dashboard.data['edgeplane.json']!) as { panels: { targets: { expr: string }[] }[] };
    expect(json.panels.length).toBeGreaterThan(10);
  });
});

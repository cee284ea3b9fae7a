import { describe, expect, it } from 'vitest';
import type { WorkloadAssignment } from '@edgeplane/api';
import type { ServedModel } from '../serve/registry.ts';
import type { WireTensor } from '../runtime/index.ts';
import { build } from '../serve/http.ts';
import { createAgentMetrics, type CacheStats } from './index.ts';

class FakeModel implements ServedModel {
  readonly key = 'ns/det';
  variant = 'det-fp32';
  fail = false;
  get assignment(): WorkloadAssignment {
    return { key: this.key, namespace: 'ns', deployment: 'det', model: 'det', task: 'detect', variant: { name: this.variant } as WorkloadAssignment['variant'], accelerator: 'cpu0', maxBatch: 8, maxQueueDelayMs: 0, latencySloMs: 20 };
  }
  get phase() {
    return 'Ready' as const;
  }
  get ready() {
    return true;
  }
  readonly inputs = [];
  readonly outputs = [];
  async infer(tensors: readonly WireTensor[]): Promise<WireTensor[]> {
    await new Promise((r) => setTimeout(r, 5));
    if (this.fail) throw Object.assign(new Error('bad shape'), { code: 'INVALID_SHAPE' });
    return [...tensors];
  }
}

const tensor = (rows: number): WireTensor => ({ name: 'x', datatype: 'FP32', shape: [rows, 3], data: new Uint8Array(rows * 12) });
const value = (text: string, line: string): number => {
  const hit = text.split('\n').find((l) => l.startsWith(`${line} `));
  if (hit === undefined) throw new Error(`no sample ${line} in:\n${text}`);
  return Number(hit.slice(line.length + 1));
};

describe('agent metrics', () => {
  it('counts and times inference by workload, variant and accelerator, with batch sizes, codes and tier switches', async () => {
    const m = createAgentMetrics();
    const model = new FakeModel();
    const served = m.instrument(model);
    expect(m.instrument(model)).toBe(served);
    // Reads through to the model as it is now.
    expect(served.assignment.variant.name).toBe('det-fp32');
    await served.infer([tensor(8)]);
    await served.infer([tensor(1)]);
    model.fail = true;
    await expect(served.infer([tensor(2)])).rejects.toThrow('bad shape');
    model.fail = false;
    model.variant = 'det-fp16';
    await served.infer([tensor(4)]);

    const { body, contentType } = await m.scrape();
    expect(contentType).toContain('text/plain');
    const fp32 = 'workload="ns/det",variant="det-fp32",accelerator="cpu0"';
    expect(value(body, `edgeplane_agent_inference_requests_total{${fp32},code="OK"}`)).toBe(2);
    expect(value(body, `edgeplane_agent_inference_requests_total{${fp32},code="INVALID_SHAPE"}`)).toBe(1);
    expect(value(body, `edgeplane_agent_inference_duration_seconds_count{${fp32}}`)).toBe(3);
    expect(value(body, `edgeplane_agent_inference_duration_seconds_sum{${fp32}}`)).toBeGreaterThan(0.012);
    expect(value(body, `edgeplane_agent_inference_batch_size_sum{${fp32}}`)).toBe(11);
    expect(value(body, `edgeplane_agent_inference_batch_size_bucket{${fp32},le="1"}`)).toBe(1);
    expect(value(body, 'edgeplane_agent_tier_switches_total{workload="ns/det",from="det-fp32",to="det-fp16"}')).toBe(1);
  });

  it('reads queue depth, utilisation, workloads and the artifact cache at scrape time', async () => {
    const m = createAgentMetrics({ defaultMetrics: true });
    const cache: CacheStats = { usedBytes: 4096, artifacts: 2, hits: 3, misses: 1 };
    m.watch({
      reports: () => [{ key: 'ns/det', variant: 'det-fp16', accelerator: 'gpu0', phase: 'Ready' }],
      load: () => [{ id: 'gpu0', util: 0.5, queue: 7 }],
      cacheStats: () => cache,
    });
    let body = (await m.scrape()).body;
    expect(value(body, 'edgeplane_agent_queue_depth{accelerator="gpu0"}')).toBe(7);
    expect(value(body, 'edgeplane_agent_executor_utilization_ratio{accelerator="gpu0"}')).toBe(0.5);
    expect(value(body, 'edgeplane_agent_workloads{workload="ns/det",variant="det-fp16",accelerator="gpu0",phase="Ready"}')).toBe(1);
    expect(value(body, 'edgeplane_agent_cache_bytes')).toBe(4096);
    expect(value(body, 'edgeplane_agent_cache_hits_total')).toBe(3);
    cache.hits = 5;
    body = (await m.scrape()).body;
    expect(value(body, 'edgeplane_agent_cache_hits_total')).toBe(5);
    for (const [, name] of body.matchAll(/^# TYPE (\S+)/gm)) expect(name).toMatch(/^edgeplane_agent_/);
  });

  it('reads escalation requests, outcomes, bytes sent upward and changed answers per workload at scrape time', async () => {
    const m = createAgentMetrics();
    const outcomes = { none: 90, answered: 6, sent: 0, budget: 2, unavailable: 1, timeout: 1, unsupported: 0 };
    m.watch({
      reports: () => [],
      load: () => [],
      cacheStats: () => ({ usedBytes: 0, artifacts: 0, hits: 0, misses: 0 }),
      escalation: () => [{ workload: 'ns/ocr', counters: { requests: 100, hard: 10, escalated: 8, answered: 6, changed: 4, failed: 2, budgetDenied: 2, bytesUp: 8 * 184_320 }, outcomes }],
    });
    const body = (await m.scrape()).body;
    expect(value(body, 'edgeplane_agent_escalation_requests_total{workload="ns/ocr"}')).toBe(100);
    expect(value(body, 'edgeplane_agent_escalation_escalated_total{workload="ns/ocr"}')).toBe(8);
    expect(value(body, 'edgeplane_agent_escalation_outcomes_total{workload="ns/ocr",outcome="answered"}')).toBe(6);
    expect(value(body, 'edgeplane_agent_escalation_outcomes_total{workload="ns/ocr",outcome="timeout"}')).toBe(1);
    expect(value(body, 'edgeplane_agent_escalation_sent_bytes_total{workload="ns/ocr"}')).toBe(8 * 184_320);
    expect(value(body, 'edgeplane_agent_escalation_answers_changed_total{workload="ns/ocr"}')).toBe(4);
  });

  it('is served at GET /metrics on the REST port, behind the bearer token when one is set', async () => {
    const m = createAgentMetrics();
    const model = m.instrument(new FakeModel());
    await model.infer([tensor(2)]);
    const app = build({ registry: { model: () => model, models: () => [model] }, bearerToken: 's3cret', metrics: () => m.scrape() });
    try {
      expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
      const res = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer s3cret' } });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toContain('text/plain');
      expect(res.body).toContain('edgeplane_agent_inference_requests_total{workload="ns/det",variant="det-fp32",accelerator="cpu0",code="OK"} 1');
    } finally {
      await app.close();
    }
  });
});

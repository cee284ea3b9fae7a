import { describe, expect, it } from 'vitest';
import { build } from './api/app.ts';
import type { ReadModel } from './api/read-model.ts';
import { createLogger } from './log.ts';
import { createMetrics, QUEUE_NAME } from './metrics.ts';
import { WorkQueue } from './reconcile/queue.ts';

const sample = async (m: ReturnType<typeof createMetrics>, line: string): Promise<number> => {
  const text = await m.registry.metrics();
  const hit = text.split('\n').find((l) => l.startsWith(`${line} `));
  if (hit === undefined) throw new Error(`no sample ${line} in:\n${text}`);
  return Number(hit.slice(line.length + 1));
};

describe('control-plane metrics', () => {
  it('names every metric with the edgeplane_ prefix, or as client-go names its work queue', async () => {
    const text = await createMetrics({ defaultMetrics: true }).registry.metrics();
    const names = [...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]!);
    expect(names.length).toBeGreaterThan(20);
    for (const name of names) expect(name, name).toMatch(/^(edgeplane_|workqueue_)/);
  });

  it('counts work-queue adds, waits, work and retries as client-go does, and logs each reconcile with its own reconcileID', async () => {
    const m = createMetrics();
    const lines: Record<string, unknown>[] = [];
    const log = createLogger('info', 'cp-1', { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    let calls = 0;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const queue = new WorkQueue({ metrics: m.workQueue, onDepth: (d) => m.queueDepth.set(d), rateLimiter: { when: () => 60_000, forget: () => {}, failures: () => 0 } });
    m.setUnfinished(() => queue.unfinished());
    const done = new Promise<void>((resolve) => {
      queue.start(async (key) => {
        calls++;
        log.info({ deployment: key }, 'reconciling');
        if (calls === 1) {
          await held;
          throw new Error('first try fails');
        }
        resolve();
        return {};
      });
    });
    const q = `{name="${QUEUE_NAME}"}`;
    queue.add('ns/a');
    await new Promise((r) => setTimeout(r, 30));
    // The reconcile in progress shows as unfinished work before it ends.
    expect(await sample(m, `workqueue_longest_running_processor_seconds${q}`)).toBeGreaterThan(0.02);
    queue.add('ns/a'); // changed while handled: counted as an add, runs once more afterwards (the retry's backoff outlasts the test)
    release();
    await done;
    await queue.shutdown();
    expect(await sample(m, `workqueue_adds_total${q}`)).toBe(2);
    expect(await sample(m, `workqueue_retries_total${q}`)).toBe(1);
    expect(await sample(m, `workqueue_work_duration_seconds_count${q}`)).toBe(2);
    expect(await sample(m, `workqueue_queue_duration_seconds_count${q}`)).toBe(2);
    expect(await sample(m, `workqueue_depth${q}`)).toBe(0);
    expect(await sample(m, `workqueue_unfinished_work_seconds${q}`)).toBe(0);
    const ids = lines.filter((l) => l.msg === 'reconciling').map((l) => l.reconcileID);
    expect(ids).toHaveLength(2);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(ids[0]).not.toBe(ids[1]);
    log.info('outside');
    expect(lines.at(-1)).not.toHaveProperty('reconcileID');
  });

  it('logs a 500 with its stack and request id, and answers with that id in the header and body', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = createLogger('info', 'cp-1', { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    const read: ReadModel = {
      nodes: async () => {
        throw new Error('redis went away');
      },
      deployments: () => [],
      deployment: async () => null,
    };
    const app = build({ readiness: () => ({ ready: true, checks: {} }), registry: createMetrics().registry, read, auth: { mode: 'none' }, log });
    try {
      const res = await app.inject({ method: 'GET', url: '/api/v1/nodes' });
      expect(res.statusCode).toBe(500);
      const id = res.headers['x-request-id'];
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.json()).toEqual({ code: 'INTERNAL', message: expect.any(String), requestId: id });
      const line = lines.find((l) => l.msg === 'request failed');
      expect(line).toMatchObject({ level: 50, reqId: id, method: 'GET', url: '/api/v1/nodes', err: { message: 'redis went away' } });
      expect((line!.err as { stack: string }).stack).toContain('metrics.test.ts');
      // A success carries an id too.
      expect((await app.inject({ method: 'GET', url: '/healthz' })).headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      await app.close();
    }
  });
});

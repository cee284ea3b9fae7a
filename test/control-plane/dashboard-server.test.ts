// The dashboard's server side against a real control plane (in-process, with authentication on),
// Redis, NATS and kube-apiserver, fed by simulated nodes: the token-for-cookie exchange, the JSON
// routes with the cookie, the event stream reporting a battery drain and the tier it causes,
// the history in Redis with its tier change, and a degraded deployment's explanation.
import { request } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { DASHBOARD_COOKIE, DeploymentView, FleetNode, FleetSnapshot, NodeDetail, NodeHistory, type DashboardEvent } from '@edgeplane/api';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDeployment, ocrDetection, until, waitForReadyNodes, watchDeploymentStatus } from '@edgeplane/env';
import { startFleetStack, type FleetStack } from '@edgeplane/env/fleet-stack';
import { historyKey } from '../../control-plane/src/dashboard/history-store.ts';

const NODES = 4;

/** Reads server-sent events from a streaming fetch, as an EventSource would. */
class EventStream {
  readonly events: DashboardEvent[] = [];
  readonly #abort = new AbortController();
  #waiters: (() => void)[] = [];
  bytes = 0;

  static async open(url: string, cookie: string): Promise<EventStream> {
    const s = new EventStream();
    const res = await fetch(url, { headers: { cookie, accept: 'text/event-stream' }, signal: s.#abort.signal });
    if (res.status !== 200 || !res.body) throw new Error(`event stream: HTTP ${res.status} ${await res.text()}`);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    void s.#pump(res.body);
    return s;
  }

  async #pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of body) {
        this.bytes += chunk.byteLength;
        buf += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const data = block
            .split('\n')
            .filter((l) => l.startsWith('data: '))
            .map((l) => l.slice(6))
            .join('\n');
          if (data) this.events.push(JSON.parse(data) as DashboardEvent);
        }
        for (const w of this.#waiters.splice(0)) w();
      }
    } catch {
      // aborted
    }
  }

  async until<T>(what: string, find: (e: DashboardEvent) => T | undefined, timeoutMs: number, from = 0): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (let seen = from; ; ) {
      for (; seen < this.events.length; seen++) {
        const hit = find(this.events[seen]!);
        if (hit !== undefined) return hit;
      }
      if (Date.now() > deadline) throw new Error(`no event: ${what} within ${timeoutMs} ms (${this.events.length} events)`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  close(): void {
    this.#abort.abort();
  }
}

describe('the dashboard server', () => {
  let stack: FleetStack;
  let base = '';
  let cookie = '';
  const kube = inject('kube');

  const get = (path: string, headers: Record<string, string> = { cookie }) => fetch(`${base}${path}`, { headers, redirect: 'manual' });

  beforeAll(async () => {
    stack = await startFleetStack({
      nodes: NODES,
      kube,
      controlPlane: 'in-process',
      heartbeatIntervalMs: 250,
      simulation: { helloConcurrency: NODES, helloTimeoutMs: 15_000, timing: { timeScale: 0.05 } },
    });
    base = stack.controlPlane.address;
    await waitForReadyNodes(stack.kc, stack.fleetSelector, NODES, 30_000);
    const watch = await watchDeploymentStatus(stack.kc, stack.namespace, 'dash');
    await createDeployment(stack.kc, ocrDetection(stack.namespace, 'dash', NODES, stack.fleetLabels));
    // Two more replicas than nodes, one per node at most: two stay unplaced.
    await createDeployment(stack.kc, ocrDetection(stack.namespace, 'too-many', NODES + 2, stack.fleetLabels));
    try {
      await watch.until((s) => s.readyReplicas === NODES, 40_000);
    } finally {
      watch.stop();
    }
  }, 90_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('exchanges the token in the address for an HttpOnly, SameSite=Strict cookie and refuses a bad one', async () => {
    const bad = await get('/dashboard/?token=not-a-token', {});
    expect(bad.status).toBe(401);
    expect(await bad.text()).toMatch(/not accepted/);

    const res = await get(`/dashboard/?token=${encodeURIComponent(kube.token)}`, {});
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/dashboard/');
    const set = res.headers.get('set-cookie') ?? '';
    expect(set).toMatch(new RegExp(`^${DASHBOARD_COOKIE}=`));
    expect(set).toMatch(/HttpOnly/);
    expect(set).toMatch(/SameSite=Strict/);
    expect(set).toMatch(/Path=\/dashboard/);
    cookie = set.split(';')[0]!;
  });

  it('answers the JSON routes with the cookie or a bearer header, and 401 without either', async () => {
    expect((await get('/dashboard/api/fleet', {})).status).toBe(401);
    expect((await get('/dashboard/api/fleet', { cookie: `${DASHBOARD_COOKIE}=forged` })).status).toBe(401);
    expect((await get('/dashboard/api/fleet', { authorization: `Bearer ${kube.token}` })).status).toBe(200);

    const res = await get('/dashboard/api/fleet');
    expect(res.status).toBe(200);
    const fleet = FleetSnapshot.parse(await res.json());
    expect(fleet.nodes).toHaveLength(NODES);
    // The fleet view's nodes carry nothing that moves without their rev (the snapshot is kept per change).
    for (const n of fleet.nodes) expect(FleetNode.strict().safeParse(n).error).toBeUndefined();
    for (const n of fleet.nodes) {
      expect(n.reachable).toBe(true);
      expect(n.accelerators.length).toBeGreaterThan(0);
      expect(n.workloads.find((w) => w.deployment === `${stack.namespace}/dash`)?.precision).not.toBeNull();
    }
    const dash = fleet.deployments.find((d) => d.name === 'dash');
    expect(dash?.readyReplicas).toBe(NODES);
    expect(Object.values(dash?.precisions ?? {}).reduce((a, b) => a + b, 0)).toBe(NODES);

    const node = NodeDetail.parse(await (await get(`/dashboard/api/nodes/${fleet.nodes[0]!.name}`)).json());
    expect(node.accelerators[0]).toHaveProperty('utilization');
    expect(node.lastSeenMs).toBeGreaterThan(0);
    expect((await get('/dashboard/api/nodes/no-such-node')).status).toBe(404);
  });

  it('sends the snapshot compressed as Accept-Encoding allows, and plain when it allows nothing', async () => {
    // Node's fetch decompresses br and gzip itself; the raw bytes are read with node:http.
    const raw = (encoding: string) =>
      new Promise<{ encoding: string | undefined; vary: string | undefined; body: Buffer }>((resolve, reject) => {
        request(`${base}/dashboard/api/fleet`, { headers: { cookie, 'accept-encoding': encoding } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => (res.statusCode === 200 ? resolve({ encoding: res.headers['content-encoding'], vary: res.headers.vary, body: Buffer.concat(chunks) }) : reject(new Error(`HTTP ${res.statusCode}`))));
        }).on('error', reject).end();
      });
    const br = await raw('gzip, deflate, br, zstd');
    expect(br.encoding).toBe('br');
    expect(br.vary).toMatch(/accept-encoding/i);
    const gz = await raw('gzip');
    expect(gz.encoding).toBe('gzip');
    const plain = await raw('identity');
    expect(plain.encoding).toBeUndefined();
    const decoded = [brotliDecompressSync(br.body), gunzipSync(gz.body), plain.body].map((b) => FleetSnapshot.parse(JSON.parse(b.toString())));
    for (const f of decoded) expect(f.nodes.map((n) => n.name).sort()).toEqual(stack.sim.nodes.map((n) => n.name).sort());
    expect(br.body.length).toBeLessThan(plain.body.length / 2);
  });

  it('shows a placement with its p99 against the SLO and tier reason, and why replicas are unplaced', async () => {
    const view = DeploymentView.parse(await (await get(`/dashboard/api/deployments/${stack.namespace}/dash`)).json());
    expect(view.placements).toHaveLength(NODES);
    expect(view.sloP99Ms).toBe(200);
    expect(view.escalation).toBeNull();
    for (const p of view.placements) expect(p.tierReason.length).toBeGreaterThan(0);

    let degraded: DeploymentView | undefined;
    for (let i = 0; i < 50 && !degraded?.unplaced.explanation; i++) {
      degraded = DeploymentView.parse(await (await get(`/dashboard/api/deployments/${stack.namespace}/too-many`)).json());
      if (!degraded.unplaced.explanation) await new Promise((r) => setTimeout(r, 200));
    }
    expect(degraded?.unplaced.count).toBe(2);
    expect(degraded?.unplaced.explanation).toMatch(/^0\/\d+ nodes are available/);
    expect(degraded?.degraded?.reason).toBe('Unschedulable');
    // Its Events, from events.k8s.io: placed, and warned about the two that were not.
    let events = degraded?.events ?? [];
    for (let i = 0; i < 25 && !events.some((e) => e.reason === 'FailedPlacement'); i++) {
      await new Promise((r) => setTimeout(r, 200));
      events = DeploymentView.parse(await (await get(`/dashboard/api/deployments/${stack.namespace}/too-many`)).json()).events;
    }
    expect(events).toContainEqual(expect.objectContaining({ type: 'Warning', reason: 'FailedPlacement', message: expect.stringMatching(/nodes are available/) }));
  });

  it('streams a battery drain and the tier it causes within 5 s, then records both in the history', async () => {
    const node = stack.sim.nodes.map((n) => n.name).find((n) => stack.sim.assignmentOf(n)?.assignment.workloads[0]?.variant.precision === 'fp32');
    expect(node, 'a node running fp32').toBeDefined();
    const stream = await EventStream.open(`${base}/dashboard/api/events?node=${node}`, cookie);
    try {
      await stream.until('hello', (e) => (e.type === 'hello' ? e : undefined), 5000);
      // A first sample at fp32 in the history before the drain, so the change has a before. The
      // stream carries every tick's samples, but only a leading replica writes them: wait for one
      // in Redis, not only on the stream.
      await stream.until('a sample', (e) => (e.type === 'sample' && e.node === node ? e : undefined), 15_000);
      await until(async () => {
        const before = NodeHistory.parse(await (await get(`/dashboard/api/nodes/${node}/history`)).json());
        if (before.t.length === 0) await new Promise((r) => setTimeout(r, 250));
        return before.t.length > 0;
      }, 'a first sample in the history', 25_000);
      const from = stream.events.length;
      const drained = Date.now();
      stack.sim.setBattery(node!, 15, false);
      await stream.until('battery 15%', (e) => (e.type === 'node' && e.node.name === node && e.node.power?.batteryPercent === 15 ? e : undefined), 5000, from);
      await stream.until('int8 on the page', (e) => (e.type === 'node' && e.node.name === node && e.node.workloads.some((w) => w.precision === 'int8') ? e : undefined), 5000 - (Date.now() - drained) + 100, from);
      expect(Date.now() - drained).toBeLessThan(5000);

      // The next sample carries it, live and in Redis.
      await stream.until('an int8 sample', (e) => (e.type === 'sample' && e.node === node && e.sample.workloads.some((w) => w.precision === 'int8') ? e : undefined), 15_000, from);
      const history = NodeHistory.parse(await (await get(`/dashboard/api/nodes/${node}/history`)).json());
      expect(history.t.length).toBeGreaterThanOrEqual(2);
      expect(history.batteryPercent.at(-1)).toBe(15);
      const line = history.workloads.find((w) => w.deployment === `${stack.namespace}/dash`);
      expect(line?.precision.at(-1)).toBe('int8');
      expect(history.tierChanges).toContainEqual(expect.objectContaining({ deployment: `${stack.namespace}/dash`, from: 'fp32', to: 'int8' }));
      // A compact list of packed samples, expiring with the window.
      const redis = await import('ioredis');
      const client = new redis.Redis(stack.redis.url);
      try {
        const key = historyKey(node!);
        expect(await client.type(key)).toBe('list');
        expect(await client.pttl(key)).toBeGreaterThan(3_500_000);
        expect(await client.memory('USAGE', key)).toBeLessThan(1024);
      } finally {
        client.disconnect();
      }
    } finally {
      stream.close();
    }
  }, 60_000);

  it('serves a page naming the build command when the dashboard is not built, and keeps the API routes apart', async () => {
    const res = await get('/dashboard/no-such-asset.js', {});
    // Built or not, a missing asset is not the page.
    expect([404, 503]).toContain(res.status);
    if (res.status === 503) expect(await res.text()).toMatch(/npm run build -w @edgeplane\/dashboard/);
    expect((await get('/dashboard/api/nope')).status).toBe(404);
  });
});

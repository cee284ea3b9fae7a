import { createServer, get, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FleetNode } from '@edgeplane/api';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SseHub } from './sse.ts';

const log = pino({ level: 'silent' });

const node = (name: string, battery: number, pad = 0): FleetNode => ({
  name,
  site: null,
  labels: pad ? { pad: 'x'.repeat(pad) } : {},
  unschedulable: false,
  ready: true,
  reachable: true,
  accelerators: [],
  power: { source: 'battery', batteryPercent: battery, charging: false },
  link: null,
  workloads: [],
  rev: battery,
});

let server: Server | undefined;
const responses: IncomingMessage[] = [];
afterEach(async () => {
  for (const r of responses.splice(0)) r.destroy();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** A real HTTP server whose every request becomes one of the hub's streams. */
async function serve(hub: SseHub): Promise<string> {
  server = createServer((req, res) => hub.add(res, new URL(req.url ?? '/', 'http://x').searchParams.get('node') ?? undefined));
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

function open(url: string): Promise<{ res: IncomingMessage; text: () => string }> {
  return new Promise((resolve) => {
    get(url, (res) => {
      responses.push(res);
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      resolve({ res, text: () => text });
    });
  });
}

const until = async (check: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

const dataLines = (text: string) => text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as { type: string; node?: FleetNode | string });

describe('SseHub', () => {
  it('says hello, then sends one upsert per node per flush: the newest', async () => {
    const hub = new SseHub({ log });
    const c = await open(await serve(hub));
    await until(() => c.text().includes('event: hello'));
    hub.offer({ type: 'node', node: node('a', 50) });
    hub.offer({ type: 'node', node: node('b', 70) });
    hub.offer({ type: 'node', node: node('a', 49) });
    hub.flush();
    await until(() => dataLines(c.text()).length === 3);
    const events = dataLines(c.text());
    expect(events.map((e) => e.type)).toEqual(['hello', 'node', 'node']);
    // b was waiting longer than a's newer version.
    expect(events.slice(1).map((e) => (e.node as FleetNode).name)).toEqual(['b', 'a']);
    expect((events[2]?.node as FleetNode).power?.batteryPercent).toBe(49);
    expect(c.text()).toMatch(/^retry: \d+/);
  });

  it('sends at most the byte budget per flush and keeps the rest, coalesced, for the next', async () => {
    const hub = new SseHub({ log, maxBytesPerSecond: 4000, flushMs: 1000 });
    const c = await open(await serve(hub));
    await until(() => c.text().includes('event: hello'));
    const start = c.text().length;
    for (let i = 0; i < 20; i++) hub.offer({ type: 'node', node: node(`n${i}`, 1, 900) });
    hub.flush();
    await new Promise((r) => setTimeout(r, 100));
    const first = c.text().length - start;
    expect(first).toBeLessThanOrEqual(4000);
    expect(first).toBeGreaterThan(2000);
    expect(hub.stats().pending).toBeGreaterThan(10);
    for (let i = 0; i < 20; i++) hub.flush();
    await until(() => dataLines(c.text()).length === 21);
    expect(hub.stats().pending).toBe(0);
  });

  it('sends a node\'s samples only to the streams that follow it', async () => {
    const hub = new SseHub({ log });
    const url = await serve(hub);
    const follower = await open(`${url}?node=a`);
    const other = await open(url);
    await until(() => follower.text().includes('hello') && other.text().includes('hello'));
    const sample = { t: 0, batteryPercent: 5, charging: false, reachable: true, link: null, workloads: [] };
    hub.offer({ type: 'sample', node: 'a', sample });
    hub.offer({ type: 'sample', node: 'b', sample });
    hub.flush();
    await until(() => follower.text().includes('event: sample'));
    await new Promise((r) => setTimeout(r, 50));
    expect(dataLines(follower.text()).filter((e) => e.type === 'sample')).toEqual([{ type: 'sample', node: 'a', sample }]);
    expect(other.text()).not.toContain('event: sample');
  });

  it('drops and counts a client that does not read, instead of buffering for it', async () => {
    const hub = new SseHub({ log, maxBytesPerSecond: 10_000_000, maxClientBufferBytes: 256 * 1024 });
    const c = await open(await serve(hub));
    await until(() => c.text().includes('hello'));
    c.res.pause();
    let closed = false;
    c.res.on('close', () => (closed = true));
    // Far more than socket buffers hold, one distinct node after another.
    for (let round = 0; round < 400 && hub.stats().dropped === 0; round++) {
      for (let i = 0; i < 50; i++) hub.offer({ type: 'node', node: node(`r${round}-${i}`, 1, 1000) });
      hub.flush();
      await new Promise((r) => setImmediate(r));
    }
    expect(hub.stats().dropped).toBe(1);
    expect(hub.stats().clients).toBe(0);
    c.res.resume();
    await until(() => closed);
  });
});

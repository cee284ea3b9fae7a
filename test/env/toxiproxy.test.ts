// The Toxiproxy client injects the TCP faults it names: latency delays data, reset_peer resets
// the connection, a partition stalls open and new connections until healed, and disable
// refuses connections.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isToxiproxyError, startToxiproxy, type ToxiproxyServer } from '@edgeplane/env';

let toxiproxy: ToxiproxyServer;
let echo: Server;
let echoPort: number;

beforeAll(async () => {
  echo = createServer((s) => {
    s.on('error', () => {}); // resets are what these tests make
    s.pipe(s);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoPort = (echo.address() as { port: number }).port;
  toxiproxy = await startToxiproxy();
});

afterAll(async () => {
  await toxiproxy?.stop();
  echo?.close();
});

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Sends a line and resolves with how it ended: the echo's round trip in ms, or an error or timeout. */
function roundTrip(s: Socket, timeoutMs: number): Promise<{ ms: number } | { error: string } | { timeout: true }> {
  return new Promise((resolve) => {
    const start = performance.now();
    const done = (r: { ms: number } | { error: string } | { timeout: true }) => {
      clearTimeout(timer);
      s.removeAllListeners('data');
      s.removeAllListeners('error');
      s.removeAllListeners('close');
      // A reset after the answer must not surface as an unhandled error.
      s.on('error', () => {});
      resolve(r);
    };
    const timer = setTimeout(() => done({ timeout: true }), timeoutMs);
    s.once('data', () => done({ ms: performance.now() - start }));
    s.once('error', (err: NodeJS.ErrnoException) => done({ error: err.code ?? err.message }));
    s.once('close', () => done({ error: 'closed' }));
    s.write('ping\n');
  });
}

describe('toxiproxy', () => {
  it('adds latency to data in flight, and heal removes it', async () => {
    const proxy = await toxiproxy.proxy('latency', echoPort);
    const s = await open(proxy.port);
    const before = await roundTrip(s, 2000);
    expect(before).toHaveProperty('ms');
    await proxy.latency(300);
    const slowed = await roundTrip(s, 2000);
    expect((slowed as { ms: number }).ms).toBeGreaterThanOrEqual(290);
    await proxy.heal();
    const healed = await roundTrip(s, 2000);
    expect((healed as { ms: number }).ms).toBeLessThan(150);
    s.destroy();
  });

  it('resets new connections and closes open ones with reset_peer', async () => {
    const proxy = await toxiproxy.proxy('reset', echoPort);
    const before = await open(proxy.port);
    await proxy.resetPeer(0);
    expect(await roundTrip(before, 2000)).toHaveProperty('error');
    const s = await open(proxy.port);
    expect(await roundTrip(s, 2000)).toEqual({ error: 'ECONNRESET' });
  });

  it('partitions open and new connections without closing them, until healed', async () => {
    const proxy = await toxiproxy.proxy('partition', echoPort);
    const s = await open(proxy.port);
    await proxy.partition();
    expect(await roundTrip(s, 500)).toEqual({ timeout: true });
    const late = await open(proxy.port);
    expect(await roundTrip(late, 500)).toEqual({ timeout: true });
    await proxy.heal();
    expect(await proxy.toxics()).toEqual([]);
    const after = await open(proxy.port);
    expect(await roundTrip(after, 2000)).toHaveProperty('ms');
    for (const c of [s, late, after]) c.destroy();
  });

  it('refuses connections while disabled', async () => {
    const proxy = await toxiproxy.proxy('disabled', echoPort);
    await proxy.disable();
    await expect(open(proxy.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await proxy.enable();
    const s = await open(proxy.port);
    expect(await roundTrip(s, 2000)).toHaveProperty('ms');
    s.destroy();
  });

  it('reports API errors as typed errors naming the request', async () => {
    const proxy = await toxiproxy.proxy('errors', echoPort);
    const err = await proxy.removeToxic('no-such-toxic').catch((e: unknown) => e);
    expect(isToxiproxyError(err)).toBe(true);
    expect(err).toMatchObject({ code: 'TOXIPROXY_API', status: 404, request: 'DELETE /proxies/errors/toxics/no-such-toxic' });
    await expect(toxiproxy.proxy('errors', echoPort)).rejects.toMatchObject({ status: 409 });
  });
});

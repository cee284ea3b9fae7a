import { execFile } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { connect as http2Connect } from 'node:http2';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startLocalEndpoints, type LocalEndpoints } from './endpoints.ts';
import type { ModelRegistry } from './registry.ts';

const EMPTY: ModelRegistry = { model: () => null, models: () => [] };
const log = pino({ level: 'silent' });
let endpoints: LocalEndpoints | undefined;
let blocker: Server | undefined;

afterEach(async () => {
  await endpoints?.close();
  endpoints = undefined;
  await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
  blocker = undefined;
});

/** One gRPC call over plain HTTP/2: the status from the trailers. */
async function grpcStatus(port: number, method: string, message: Uint8Array = new Uint8Array(0)): Promise<string | undefined> {
  const session = http2Connect(`http://127.0.0.1:${port}`);
  try {
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    frame.set(message, 5);
    const stream = session.request({ ':method': 'POST', ':path': `/inference.GRPCInferenceService/${method}`, 'content-type': 'application/grpc', te: 'trailers' });
    stream.end(frame);
    return await new Promise((resolve, reject) => {
      // An error comes trailers-only: its status is in the response headers.
      stream.on('response', (h) => h['grpc-status'] !== undefined && resolve(h['grpc-status'] as string));
      stream.on('trailers', (t) => resolve(t['grpc-status'] as string | undefined));
      stream.on('error', reject);
      stream.resume();
    });
  } finally {
    session.close();
  }
}

describe('local endpoints', () => {
  it('listen at start and build each endpoint on its first connection; the first requests are answered', async () => {
    endpoints = await startLocalEndpoints({ registry: EMPTY, log, httpAddr: { host: '127.0.0.1', port: 0 }, grpcAddr: { host: '127.0.0.1', port: 0 } });
    expect(endpoints.http.loaded).toBe(false);
    expect(endpoints.grpc?.loaded).toBe(false);

    // The first request carries a body: nothing read before the handover is lost.
    const base = `http://127.0.0.1:${endpoints.http.address().port}`;
    const infer = await fetch(`${base}/v2/models/absent/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }] }) });
    expect(infer.status).toBe(404);
    expect(((await infer.json()) as { code: string }).code).toBe('MODEL_NOT_FOUND');
    expect(endpoints.http.loaded).toBe(true);
    expect(endpoints.grpc?.loaded).toBe(false);
    expect((await fetch(`${base}/v2/health/live`)).status).toBe(200);

    const client = new grpc.Client(`127.0.0.1:${endpoints.grpc!.address().port}`, grpc.credentials.createInsecure());
    const live = await new Promise<Buffer>((resolve, reject) =>
      client.makeUnaryRequest('/inference.GRPCInferenceService/ServerLive', () => Buffer.alloc(0), (b: Buffer) => b, {}, (err, res) => (err ? reject(err) : resolve(res!))),
    );
    client.close();
    // ServerLiveResponse{live: true}: field 1, varint 1.
    expect([...live]).toEqual([0x08, 0x01]);
    expect(endpoints.grpc?.loaded).toBe(true);
    expect(await grpcStatus(endpoints.grpc!.address().port, 'ModelReady', Buffer.from([0x0a, 0x01, 0x78]))).toBe(String(grpc.status.NOT_FOUND));
  });

  it('fails the start when HTTP cannot take its port, and leaves gRPC off when its default port is taken', async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker!.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const taken = (blocker.address() as { port: number }).port;
    await expect(startLocalEndpoints({ registry: EMPTY, log, httpAddr: { host: '127.0.0.1', port: taken } })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await expect(startLocalEndpoints({ registry: EMPTY, log, httpAddr: { host: '127.0.0.1', port: 0 }, grpcAddr: { host: '127.0.0.1', port: taken } })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    if (taken > 1) {
      endpoints = await startLocalEndpoints({ registry: EMPTY, log, httpAddr: { host: '127.0.0.1', port: taken - 1 } }).catch(() => undefined);
      // Port taken - 1 may belong to someone else; when it was free, gRPC's default (taken) is left off.
      if (endpoints) expect(endpoints.grpc).toBeUndefined();
    }
  });

  it('on localhost, listens on every address it resolves to that can be bound, as Fastify and grpc-js do', async () => {
    const canBind = (host: string) =>
      new Promise<boolean>((resolve) => {
        const s = createServer();
        s.once('error', () => resolve(false));
        s.listen({ host, port: 0 }, () => s.close(() => resolve(true)));
      });
    const resolved = (await lookup('localhost', { all: true })).map((a) => a.address);
    const bindable = [];
    for (const a of resolved) if (await canBind(a)) bindable.push(a);
    endpoints = await startLocalEndpoints({ registry: EMPTY, log, httpAddr: { host: 'localhost', port: 0 }, grpcAddr: { host: 'localhost', port: 0 } });
    for (const listener of [endpoints.http, endpoints.grpc!]) {
      const bound = listener.addresses();
      expect(bound.map((a) => a.address).sort()).toEqual([...bindable].sort());
      expect(new Set(bound.map((a) => a.port))).toEqual(new Set([listener.address().port]));
    }
    for (const a of endpoints.http.addresses()) {
      const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      expect((await fetch(`http://${host}:${a.port}/v2/health/live`)).status).toBe(200);
    }
  });

  it('imports no endpoint module before the first connection', async () => {
    // A fresh process whose module loads are recorded by a load hook: what an idle agent holds.
    const script = `
      import { registerHooks } from 'node:module';
      import { connect } from 'node:http2';
      const seen = [];
      registerHooks({ load(url, context, next) { seen.push(url); return next(url, context); } });
      const endpointModules = () => seen.filter((u) => /node_modules\\/(fastify|@fastify|ajv|@grpc)\\/|serve\\/(http|grpc|grpc-descriptor)\\.ts$/.test(u)).length;
      const { pino } = await import(${JSON.stringify(import.meta.resolve('pino'))});
      const { startLocalEndpoints } = await import(${JSON.stringify(import.meta.resolve('./endpoints.ts'))});
      const e = await startLocalEndpoints({ registry: { model: () => null, models: () => [] }, log: pino({ level: 'silent' }), httpAddr: { host: '127.0.0.1', port: 0 }, grpcAddr: { host: '127.0.0.1', port: 0 } });
      const before = endpointModules();
      const live = await fetch('http://127.0.0.1:' + e.http.address().port + '/v2/health/live');
      const session = connect('http://127.0.0.1:' + e.grpc.address().port);
      const grpcStatus = await new Promise((resolve, reject) => {
        const s = session.request({ ':method': 'POST', ':path': '/inference.GRPCInferenceService/ServerLive', 'content-type': 'application/grpc', te: 'trailers' });
        s.on('trailers', (t) => resolve(t['grpc-status']));
        s.on('error', reject);
        s.resume();
        s.end(Buffer.alloc(5));
      });
      session.close();
      const after = endpointModules();
      await e.close();
      process.stdout.write(JSON.stringify({ before, after, httpStatus: live.status, grpcStatus }));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('.', import.meta.url)), timeout: 60_000 });
    const out = JSON.parse(stdout) as { before: number; after: number; httpStatus: number; grpcStatus: string };
    expect(out.before).toBe(0);
    expect(out.after).toBeGreaterThan(10);
    expect(out.httpStatus).toBe(200);
    expect(out.grpcStatus).toBe('0');
  }, 90_000);
});

import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isCacheFullError, isDigestMismatchError, isFileUriNotAllowedError, isInvalidDigestError } from '../workloads/errors.ts';
import { selfSignedCert } from './fixtures/tls.ts';
import { ArtifactStore } from './store.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ep-artifacts-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function artifact(name: string, bytes: Uint8Array) {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return { uri: pathToFileURL(path).href, sha256: sha(bytes), sizeBytes: bytes.byteLength, bytes };
}

describe('ArtifactStore with file://', () => {
  it('fetches, verifies and hands out exactly the verified bytes', async () => {
    const a = artifact('a.onnx', randomBytes(5000));
    const transfers: number[] = [];
    const store = await ArtifactStore.open({ dir: join(dir, 'cache'), maxBytes: 1e6, fileRoots: [dir], onTransfer: (bytes) => transfers.push(bytes) });
    const r = await store.fetch(a);
    expect(r.cached).toBe(false);
    // A local file says nothing about the link.
    expect(transfers).toEqual([]);
    expect(store.digests()).toEqual([a.sha256]);
    expect(Buffer.from(await store.readVerified(a.sha256)).equals(Buffer.from(a.bytes))).toBe(true);
    expect((await store.fetch(a)).cached).toBe(true);
  });

  it('refuses a wrong digest, deletes the file and caches nothing', async () => {
    const a = artifact('a.onnx', randomBytes(3000));
    const store = await ArtifactStore.open({ dir: join(dir, 'cache'), maxBytes: 1e6, fileRoots: [dir] });
    const err = await store.fetch({ ...a, sha256: sha(randomBytes(8)) }).catch((e: unknown) => e);
    expect(isDigestMismatchError(err)).toBe(true);
    expect(store.digests()).toEqual([]);
    expect(readdirSync(join(dir, 'cache', 'partial'))).toEqual([]);
    expect(readdirSync(join(dir, 'cache', 'blobs'))).toEqual([]);
  });

  it('refuses an artifact longer than its declared size as a mismatch, at once, keeping nothing', async () => {
    const a = artifact('a.onnx', randomBytes(3000));
    const store = await ArtifactStore.open({ dir: join(dir, 'cache'), maxBytes: 1e6, fileRoots: [dir], retryDelayMs: 60_000 });
    // A retry would wait a minute: the test's timeout says none happens.
    const err = await store.fetch({ ...a, sizeBytes: 1000 }).catch((e: unknown) => e);
    expect(isDigestMismatchError(err)).toBe(true);
    expect(readdirSync(join(dir, 'cache', 'partial'))).toEqual([]);
    expect(store.digests()).toEqual([]);
  });

  it('refuses a cached file that changed on disk since it was verified', async () => {
    const a = artifact('a.onnx', randomBytes(3000));
    const store = await ArtifactStore.open({ dir: join(dir, 'cache'), maxBytes: 1e6, fileRoots: [dir] });
    await store.fetch(a);
    const blob = join(dir, 'cache', 'blobs', a.sha256);
    const corrupt = Buffer.from(a.bytes);
    corrupt[100] = (corrupt[100] ?? 0) ^ 0xff;
    writeFileSync(blob, corrupt);
    const err = await store.readVerified(a.sha256).catch((e: unknown) => e);
    expect(isDigestMismatchError(err)).toBe(true);
    expect(existsSync(blob)).toBe(false);
    expect(store.has(a.sha256)).toBe(false);
  });

  it('evicts the least recently used artifact to stay under the cap, never a pinned one', async () => {
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => artifact(n, randomBytes(100)));
    const store = await ArtifactStore.open({ dir: join(dir, 'cache'), maxBytes: 250, fileRoots: [dir] });
    await store.fetch(a!);
    await store.fetch(b!);
    await new Promise((r) => setTimeout(r, 5));
    await store.readVerified(a!.sha256);
    await store.fetch(c!);
    expect(store.digests()).toEqual([a!.sha256, c!.sha256].sort());
    store.pin(a!.sha256);
    store.pin(c!.sha256);
    const err = await store.fetch(d!).catch((e: unknown) => e);
    expect(isCacheFullError(err)).toBe(true);
    store.unpin(a!.sha256);
    await store.fetch(d!);
    expect(store.digests()).toEqual([c!.sha256, d!.sha256].sort());
    expect(store.usedBytes()).toBe(200);
  });

  it('indexes what an earlier run left in the cache', async () => {
    const a = artifact('a.onnx', randomBytes(700));
    const first = await ArtifactStore.open({ dir: join(dir, 'cache'), maxBytes: 1e6, fileRoots: [dir] });
    await first.fetch(a);
    const second = await ArtifactStore.open({ dir: join(dir, 'cache'), maxBytes: 1e6, fileRoots: [dir] });
    expect(second.digests()).toEqual([a.sha256]);
  });
});

describe('ArtifactStore refuses bad input before it touches a file', () => {
  it('refuses file:// when no roots are configured, saying why', async () => {
    const a = artifact('a.onnx', randomBytes(100));
    const store = await ArtifactStore.open({ dir: join(dir, 'cache'), maxBytes: 1e6 });
    const err = await store.fetch(a).catch((e: unknown) => e);
    expect(isFileUriNotAllowedError(err)).toBe(true);
    expect((err as Error).message).toMatch(/no file roots configured/);
  });

  it.each([
    { name: 'a path outside the roots', uri: () => pathToFileURL('/etc/passwd').href },
    { name: 'a .. that climbs out of a root', uri: () => `${pathToFileURL(join(dir, 'models')).href}/../../../etc/passwd` },
    { name: 'an encoded .. that climbs out of a root', uri: () => `${pathToFileURL(join(dir, 'models')).href}/%2e%2e/%2e%2e/etc/passwd` },
    { name: 'a symlink under a root pointing out of it', uri: () => pathToFileURL(join(dir, 'models', 'escape.onnx')).href },
  ])('refuses $name', async ({ uri }) => {
    mkdirSync(join(dir, 'models'), { recursive: true });
    symlinkSync('/etc/passwd', join(dir, 'models', 'escape.onnx'));
    const store = await ArtifactStore.open({ dir: join(dir, 'cache'), maxBytes: 1e6, fileRoots: [join(dir, 'models')] });
    const err = await store.fetch({ uri: uri(), sha256: 'a'.repeat(64), sizeBytes: 10 }).catch((e: unknown) => e);
    expect(isFileUriNotAllowedError(err)).toBe(true);
    expect(readdirSync(join(dir, 'cache', 'partial'))).toEqual([]);
  });

  it('follows a symlink that stays under a root', async () => {
    const bytes = randomBytes(200);
    mkdirSync(join(dir, 'models', 'v2'), { recursive: true });
    writeFileSync(join(dir, 'models', 'v2', 'm.onnx'), bytes);
    symlinkSync(join(dir, 'models', 'v2', 'm.onnx'), join(dir, 'models', 'current.onnx'));
    const store = await ArtifactStore.open({ dir: join(dir, 'cache'), maxBytes: 1e6, fileRoots: [join(dir, 'models')] });
    await store.fetch({ uri: pathToFileURL(join(dir, 'models', 'current.onnx')).href, sha256: sha(bytes), sizeBytes: bytes.byteLength });
    expect(store.digests()).toEqual([sha(bytes)]);
  });

  it('reports a mismatch without the local file\'s digest or size', async () => {
    const secret = randomBytes(1234);
    const a = artifact('secret.bin', secret);
    const store = await ArtifactStore.open({ dir: join(dir, 'cache'), maxBytes: 1e6, fileRoots: [dir], attempts: 1 });
    for (const sizeBytes of [1234, 1000, 5000]) {
      const err = (await store.fetch({ uri: a.uri, sha256: 'b'.repeat(64), sizeBytes }).catch((e: unknown) => e)) as Error;
      expect(err.message).toMatch(/digest mismatch|failed/);
      expect(err.message).not.toContain(a.sha256);
      expect(err.message).not.toMatch(/1234/);
    }
  });

  it.each(['A'.repeat(64), `../../${'a'.repeat(58)}`, 'a'.repeat(63), `${'a'.repeat(63)}/`])('never builds a path from the digest %s', async (sha256) => {
    const store = await ArtifactStore.open({ dir: join(dir, 'cache'), maxBytes: 1e6, fileRoots: [dir] });
    const a = artifact('a.onnx', randomBytes(10));
    expect(isInvalidDigestError(await store.fetch({ ...a, sha256 }).catch((e: unknown) => e))).toBe(true);
    expect(isInvalidDigestError(await store.readVerified(sha256).catch((e: unknown) => e))).toBe(true);
    expect(readdirSync(join(dir, 'cache', 'partial'))).toEqual([]);
  });
});

describe('ArtifactStore with https://', () => {
  const tls = selfSignedCert();
  const body = randomBytes(256 * 1024);
  let server: Server;
  let base: string;
  let mode: 'die-midway' | 'ranges' | 'ignore-ranges' = 'ranges';
  let requests: { range: string | undefined; sent: number }[] = [];

  beforeAll(async () => {
    server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
      const range = req.headers.range;
      const log = { range, sent: 0 };
      requests.push(log);
      const from = mode === 'ranges' && range ? Number(/bytes=(\d+)-/.exec(range)?.[1] ?? 0) : 0;
      const slice = body.subarray(from);
      res.writeHead(from > 0 ? 206 : 200, { 'content-length': slice.byteLength });
      if (mode === 'die-midway') {
        // Sends 100 KiB and then drops the connection, like a link that went away.
        res.write(slice.subarray(0, 100 * 1024), () => {
          log.sent = 100 * 1024;
          setTimeout(() => res.socket?.destroy(), 20);
        });
        mode = 'ranges';
        return;
      }
      log.sent = slice.byteLength;
      res.end(slice);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    requests = [];
  });

  const target = () => ({ uri: `${base}/model.onnx`, sha256: sha(body), sizeBytes: body.byteLength });

  it('resumes with a Range request after the server dies mid-way', async () => {
    mode = 'die-midway';
    const transfers: { bytes: number; ms: number }[] = [];
    const store = await ArtifactStore.open({ dir: join(dir, 'cache'), maxBytes: 1e7, httpsCa: tls.cert, retryDelayMs: 10, onTransfer: (bytes, ms) => transfers.push({ bytes, ms }) });
    const r = await store.fetch(target());
    // The completed attempt is the link sample: what it fetched, in the time it took.
    expect(transfers).toEqual([{ bytes: body.byteLength - r.resumedFrom, ms: expect.any(Number) }]);
    expect(transfers[0]!.ms).toBeGreaterThan(0);
    expect(r.attempts).toBe(2);
    expect(r.resumedFrom).toBeGreaterThan(0);
    expect(requests[0]?.range).toBeUndefined();
    expect(requests[1]?.range).toBe(`bytes=${r.resumedFrom}-`);
    expect(requests[1]?.sent).toBe(body.byteLength - r.resumedFrom);
    expect(sha(await store.readVerified(sha(body)))).toBe(sha(body));
  });

  it('resumes from a server that ignores Range by skipping what is on disk', async () => {
    mode = 'ignore-ranges';
    const cache = join(dir, 'cache');
    await ArtifactStore.open({ dir: cache, maxBytes: 1e7 });
    writeFileSync(join(cache, 'partial', `${sha(body)}.part`), body.subarray(0, 5000));
    const store = await ArtifactStore.open({ dir: cache, maxBytes: 1e7, httpsCa: tls.cert });
    const r = await store.fetch(target());
    expect(r.resumedFrom).toBe(5000);
    expect(requests[0]?.range).toBe('bytes=5000-');
    expect(store.digests()).toEqual([sha(body)]);
  });

  it('does not trust a server outside the configured CAs', async () => {
    mode = 'ranges';
    const store = await ArtifactStore.open({ dir: join(dir, 'cache'), maxBytes: 1e7, attempts: 1 });
    const err = await store.fetch(target()).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('ArtifactFetchError');
    expect(store.digests()).toEqual([]);
  });
});

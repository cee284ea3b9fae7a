// The artifact cache: verified model files by sha256 under `<dir>/blobs`, partial downloads
// under `<dir>/partial`, a size cap with LRU eviction that never touches a pinned (loaded)
// artifact. Bytes handed to a loader are read once and hashed in memory, so what is loaded
// is exactly what was verified.
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, stat, statfs, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino, type Logger } from 'pino';
import { redactUrl } from '@edgeplane/api';
import { CacheDiskFullError, CacheFullError, DigestMismatchError, InvalidDigestError, isArtifactFetchError } from '../workloads/errors.ts';
import { downloadVerified, type DownloadResult, type DownloadTarget } from './download.ts';
import { planEviction, type CacheEntry } from './lru.ts';
import type { ArtifactSource } from './source.ts';
import { fileSource } from './source-file.ts';
import { httpsSource } from './source-https.ts';
import { isReadInterruptedError, natsObjSource } from './source-nats-obj.ts';
import { parseArtifactUri } from './uri.ts';
import { resolveAllowedFile } from './file-roots.ts';

const SHA256 = /^[0-9a-f]{64}$/;
/** Reads cut short by a reconnect, resumed at once, per fetch; more count as failed attempts. */
const MAX_INTERRUPTIONS = 5;

export interface ArtifactStoreOptions {
  dir: string;
  maxBytes: number;
  /** The current NATS connection, for nats-obj:// artifacts; null while disconnected. */
  nats?: () => NatsConnection | null;
  /** Extra CA certificates for https:// artifacts (PEM). */
  httpsCa?: string | string[];
  /** Directories file:// artifacts may be read from; none (the default) refuses file://. */
  fileRoots?: readonly string[];
  /** A read that delivers nothing for this long is abandoned and resumed, ms. */
  stallTimeoutMs?: number;
  /** Attempts per fetch; each resumes where the previous one stopped. */
  attempts?: number;
  retryDelayMs?: number;
  logger?: Logger;
  /** Called with bytes on disk as a download proceeds (progress reporting, tests). */
  onProgress?: (sha256: string, bytesOnDisk: number) => void | Promise<void>;
  /** Called after each completed network download (not file://): a free sample of the link's bandwidth. */
  onTransfer?: (bytes: number, elapsedMs: number) => void;
}

export interface FetchResult extends DownloadResult {
  /** True when the artifact was in the cache already. */
  cached: boolean;
  attempts: number;
}

export class ArtifactStore {
  readonly #opts: ArtifactStoreOptions;
  readonly #log: Logger;
  readonly #entries = new Map<string, CacheEntry>();
  readonly #inflight = new Map<string, Promise<FetchResult>>();
  #reserved = 0;
  /** Fetches answered from the cache and those that fetched, since open (for metrics). */
  #hits = 0;
  #misses = 0;

  private constructor(options: ArtifactStoreOptions) {
    this.#opts = options;
    this.#log = options.logger ?? pino({ level: 'silent' });
  }

  /** Opens the cache directory and indexes what an earlier run left there. */
  static async open(options: ArtifactStoreOptions): Promise<ArtifactStore> {
    const store = new ArtifactStore(options);
    await mkdir(store.#blobDir, { recursive: true });
    await mkdir(store.#partDir, { recursive: true });
    for (const name of await readdir(store.#blobDir)) {
      if (!SHA256.test(name)) continue;
      const s = await stat(join(store.#blobDir, name));
      store.#entries.set(name, { sha256: name, bytes: s.size, lastUsedMs: s.mtimeMs, pins: 0 });
    }
    return store;
  }

  get #blobDir(): string {
    return join(this.#opts.dir, 'blobs');
  }

  get #partDir(): string {
    return join(this.#opts.dir, 'partial');
  }

  has(sha256: string): boolean {
    return this.#entries.has(sha256);
  }

  digests(): string[] {
    return [...this.#entries.keys()].sort();
  }

  fetchCounts(): { hits: number; misses: number } {
    return { hits: this.#hits, misses: this.#misses };
  }

  usedBytes(): number {
    let n = 0;
    for (const e of this.#entries.values()) n += e.bytes;
    return n;
  }

  pin(sha256: string): void {
    const e = this.#entries.get(sha256);
    if (e) e.pins++;
  }

  unpin(sha256: string): void {
    const e = this.#entries.get(sha256);
    if (e && e.pins > 0) e.pins--;
  }

  /** Makes sure the artifact is in the cache, verified; concurrent calls share one download. */
  fetch(target: DownloadTarget): Promise<FetchResult> {
    // The digest names files below: nothing but 64 lowercase hex may reach a path.
    if (!SHA256.test(target.sha256)) return Promise.reject(new InvalidDigestError());
    if (this.#entries.has(target.sha256)) {
      this.#hits++;
      return Promise.resolve({ cached: true, attempts: 0, resumedFrom: 0, fetchedBytes: 0 });
    }
    const running = this.#inflight.get(target.sha256);
    if (running) return running;
    this.#misses++;
    const p = this.#fetch(target).finally(() => this.#inflight.delete(target.sha256));
    this.#inflight.set(target.sha256, p);
    return p;
  }

  /**
   * The artifact's bytes, hashed again after reading: a file changed on disk since it was
   * verified (corruption, tampering) is deleted and refused with DigestMismatchError.
   */
  async readVerified(sha256: string): Promise<Uint8Array> {
    if (!SHA256.test(sha256)) throw new InvalidDigestError();
    const path = join(this.#blobDir, sha256);
    const bytes = await readFile(path);
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== sha256) {
      this.#entries.delete(sha256);
      await unlink(path).catch(() => undefined);
      this.#log.warn({ artifact: sha256 }, 'cached artifact is corrupt; deleted');
      throw new DigestMismatchError(`cache:${sha256}`, sha256);
    }
    const e = this.#entries.get(sha256);
    if (e) {
      e.lastUsedMs = Date.now();
      await utimes(path, new Date(), new Date()).catch(() => undefined);
    }
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  async #fetch(target: DownloadTarget): Promise<FetchResult> {
    await this.#makeRoom(target.sizeBytes);
    this.#reserved += target.sizeBytes;
    try {
      const source = await this.#sourceFor(target.uri);
      const part = join(this.#partDir, `${target.sha256}.part`);
      await this.#checkDiskRoom(part, target.sizeBytes);
      const attempts = Math.max(1, this.#opts.attempts ?? 3);
      let first: DownloadResult | null = null;
      let interruptions = 0;
      for (let attempt = 1; ; attempt++) {
        try {
          const started = performance.now();
          const r = await downloadVerified(source, part, target, (n) => this.#opts.onProgress?.(target.sha256, n));
          if (!target.uri.startsWith('file:')) this.#opts.onTransfer?.(r.fetchedBytes, performance.now() - started);
          first ??= r;
          await rename(part, join(this.#blobDir, target.sha256));
          this.#entries.set(target.sha256, { sha256: target.sha256, bytes: target.sizeBytes, lastUsedMs: Date.now(), pins: 0 });
          this.#log.info({ artifact: target.sha256, uri: redactUrl(target.uri), attempt, resumedFrom: r.resumedFrom }, 'artifact fetched and verified');
          return { cached: false, attempts: attempt, resumedFrom: r.resumedFrom, fetchedBytes: r.fetchedBytes };
        } catch (err) {
          if (!isArtifactFetchError(err)) throw err;
          // A reconnect (a credential renewal forces one) lost what was in flight, nothing is
          // wrong with the source: resume at once, without spending an attempt (a few at most).
          const reconnected = isReadInterruptedError(err.cause) && interruptions < MAX_INTERRUPTIONS;
          if (!reconnected && attempt >= attempts) throw err;
          this.#log.warn({ artifact: target.sha256, uri: redactUrl(target.uri), attempt, bytesOnDisk: err.bytesOnDisk, err }, 'artifact fetch interrupted; resuming');
          if (reconnected) {
            interruptions += 1;
            attempt -= 1;
            continue;
          }
          await new Promise((r) => setTimeout(r, (this.#opts.retryDelayMs ?? 500) * attempt));
        }
      }
    } finally {
      this.#reserved -= target.sizeBytes;
    }
  }

  /** Refuses before writing a byte when the file system cannot hold the rest of the artifact. */
  async #checkDiskRoom(part: string, sizeBytes: number): Promise<void> {
    let free: number;
    try {
      const fs = await statfs(this.#partDir);
      free = fs.bavail * fs.bsize;
    } catch {
      return; // no statfs here: the write itself reports ENOSPC
    }
    const have = await stat(part).then((s) => s.size, () => 0);
    const need = Math.max(0, sizeBytes - have);
    if (need > free) throw new CacheDiskFullError(need, free);
  }

  async #makeRoom(needBytes: number): Promise<void> {
    const plan = planEviction(this.#entries.values(), this.#opts.maxBytes, needBytes, this.#reserved);
    if (!plan.fits) {
      let pinned = 0;
      for (const e of this.#entries.values()) if (e.pins > 0) pinned += e.bytes;
      throw new CacheFullError(needBytes, this.#opts.maxBytes, pinned);
    }
    for (const sha of plan.evict) {
      this.#entries.delete(sha);
      await unlink(join(this.#blobDir, sha)).catch(() => undefined);
      this.#log.info({ artifact: sha }, 'artifact evicted (least recently used)');
    }
  }

  async #sourceFor(uri: string): Promise<ArtifactSource> {
    const u = parseArtifactUri(uri);
    const stallTimeoutMs = this.#opts.stallTimeoutMs;
    switch (u.scheme) {
      case 'file':
        return fileSource(await resolveAllowedFile(uri, u.path, this.#opts.fileRoots ?? []));
      case 'https':
        return httpsSource(u.url, { ...(this.#opts.httpsCa ? { ca: this.#opts.httpsCa } : {}), ...(stallTimeoutMs ? { stallTimeoutMs } : {}) });
      case 'nats-obj':
        return {
          read: (offset) => {
            const nc = this.#opts.nats?.() ?? null;
            if (!nc) return Promise.reject(new Error('no NATS connection for nats-obj artifacts'));
            return natsObjSource(nc, u.bucket, u.object, stallTimeoutMs ? { stallTimeoutMs } : {}).read(offset);
          },
        };
    }
  }
}

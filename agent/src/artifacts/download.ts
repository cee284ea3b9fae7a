// Resumable, hashed download into a partial file. Bytes already on disk from an earlier,
// interrupted attempt are kept: they are re-hashed locally and the source is read from
// their end. The digest is checked before the file may leave the partial state.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat, truncate, unlink } from 'node:fs/promises';
import { ArtifactFetchError, CacheDiskFullError, DigestMismatchError } from '../workloads/errors.ts';
import type { ArtifactSource } from './source.ts';

export interface DownloadTarget {
  uri: string;
  sha256: string;
  sizeBytes: number;
}

export interface DownloadResult {
  /** Bytes that were on disk already and not fetched again. */
  resumedFrom: number;
  fetchedBytes: number;
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** The file system is out of room (or over a quota): no retry of the read helps. */
export function isNoSpace(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

/**
 * Downloads `target` into `partPath`. On success the file holds exactly the verified bytes.
 * On a digest mismatch the partial file is deleted and DigestMismatchError thrown; on a read
 * failure the bytes received so far stay on disk and ArtifactFetchError is thrown.
 */
export async function downloadVerified(
  source: ArtifactSource,
  partPath: string,
  target: DownloadTarget,
  /** Called after each chunk is on disk; a returned promise is awaited (a pause, in tests). */
  onProgress?: (bytesOnDisk: number) => void | Promise<void>,
): Promise<DownloadResult> {
  let offset = await sizeOf(partPath);
  if (offset > target.sizeBytes) {
    await truncate(partPath, 0);
    offset = 0;
  }
  const hash = createHash('sha256');
  if (offset > 0) await hashFile(partPath, hash);
  const resumedFrom = offset;
  let onDisk = offset;

  if (offset < target.sizeBytes) {
    const fh = await open(partPath, 'a');
    try {
      const read = await source.read(offset).catch((cause: unknown) => {
        throw new ArtifactFetchError(target.uri, cause instanceof Error ? cause.message : String(cause), onDisk, { cause });
      });
      let skip = read.skip;
      try {
        for await (const raw of read.chunks) {
          let chunk = raw;
          if (skip > 0) {
            const drop = Math.min(skip, chunk.byteLength);
            skip -= drop;
            chunk = chunk.subarray(drop);
            if (chunk.byteLength === 0) continue;
          }
          if (onDisk + chunk.byteLength > target.sizeBytes) {
            // Not a broken read: the artifact is not the one the spec describes. Fetching it
            // again would give the same bytes, so it is refused as a mismatch, not retried.
            await read.close().catch(() => undefined);
            await unlink(partPath).catch(() => undefined);
            throw new DigestMismatchError(target.uri, target.sha256);
          }
          // A short write (a disk filling up) would leave bytes out of the file but not the hash.
          let written = 0;
          while (written < chunk.byteLength) written += (await fh.write(chunk, written)).bytesWritten;
          hash.update(chunk);
          onDisk += chunk.byteLength;
          await onProgress?.(onDisk);
        }
      } catch (cause) {
        if (cause instanceof DigestMismatchError) throw cause;
        await read.close().catch(() => undefined);
        if (isNoSpace(cause)) {
          // Gives the room back (once the handle closes, below) rather than keep a disk full
          // for a download that cannot finish.
          await unlink(partPath).catch(() => undefined);
          throw new CacheDiskFullError(target.sizeBytes, undefined, { cause });
        }
        throw new ArtifactFetchError(target.uri, cause instanceof Error ? cause.message : String(cause), onDisk, { cause });
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  const actual = hash.digest('hex');
  if (onDisk !== target.sizeBytes || actual !== target.sha256) {
    await unlink(partPath).catch(() => undefined);
    // Neither the computed digest nor the size goes into the error: see DigestMismatchError.
    throw new DigestMismatchError(target.uri, target.sha256);
  }
  return { resumedFrom, fetchedBytes: onDisk - resumedFrom };
}

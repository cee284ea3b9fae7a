// `edgeplane model push <dir>`: uploads each variant into the JetStream object store bucket
// `ep-models` as `<model>-<variant>.onnx`. Resumable: an object whose stored digest already
// matches the file is skipped, so an interrupted push only sends what is missing.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { redactSecrets, redactUrl } from '@edgeplane/api';
import { jetstream } from '@nats-io/jetstream';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { ModelError } from '../errors.ts';
import { natsSecurity, NatsAccessError } from '../../nats-access.ts';
import { readManifest } from '../manifest.ts';
import { sha256 } from '../quantize/pipeline.ts';

export const MODELS_BUCKET = 'ep-models';
const CHUNK_BYTES = 128 * 1024;

export interface PushOptions {
  natsUrl: string;
  /** Credentials file of a user that may write the object store (an administrator's). */
  natsCreds?: string | undefined;
  /** CA (PEM file) of the server's certificate; default: the system's CAs. */
  natsCa?: string | undefined;
  /** Progress lines for a person (stderr in the command). */
  progress?: (line: string) => void;
  timeoutMs?: number;
}

export interface PushedObject {
  variant: string;
  object: string;
  uri: string;
  sizeBytes: number;
  sha256: string;
  skipped: boolean;
}

export function objectName(model: string, variant: string): string {
  return `${model}-${variant}.onnx`;
}

/** Hex sha256 from the store's `SHA-256=<base64url>` digest, or null for another form. */
export function digestHex(digest: string): string | null {
  if (!digest.startsWith('SHA-256=')) return null;
  const b64 = digest.slice(8).replace(/-/g, '+').replace(/_/g, '/');
  const hex = Buffer.from(b64, 'base64').toString('hex');
  return hex.length === 64 ? hex : null;
}

function streamOf(bytes: Uint8Array, onChunk: (sent: number) => void): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.byteLength) {
        controller.close();
        return;
      }
      const end = Math.min(bytes.byteLength, offset + CHUNK_BYTES);
      controller.enqueue(bytes.subarray(offset, end));
      offset = end;
      onChunk(offset);
    },
  });
}

async function upload(store: ObjectStore, name: string, bytes: Uint8Array, hex: string, progress: (line: string) => void): Promise<boolean> {
  const existing = await store.info(name);
  if (existing && !existing.deleted && digestHex(existing.digest) === hex && existing.size === bytes.byteLength) {
    progress(`${name}: already stored with the same digest, skipped`);
    return true;
  }
  let lastPercent = -1;
  const stream = streamOf(bytes, (sent) => {
    const percent = Math.floor((sent / bytes.byteLength) * 100);
    if (percent >= lastPercent + 10 || sent === bytes.byteLength) {
      lastPercent = percent;
      progress(`${name}: ${percent}% (${sent}/${bytes.byteLength} bytes)`);
    }
  });
  const info = await store.put({ name, description: 'edgeplane model variant', metadata: { sha256: hex } }, stream);
  if (digestHex(info.digest) !== hex) {
    throw new ModelError('PUSH_FAILED', `${name}: the store recorded digest ${info.digest}, the file has sha256 ${hex}`);
  }
  return false;
}

export async function pushDir(dir: string, options: PushOptions): Promise<PushedObject[]> {
  const manifest = readManifest(dir);
  const progress = options.progress ?? (() => {});
  const security = await natsSecurity({ creds: options.natsCreds, ca: options.natsCa, servers: options.natsUrl }).catch((err: unknown) => {
    throw err instanceof NatsAccessError ? new ModelError('BAD_ARGUMENT', err.message, { cause: err }) : err;
  });
  let nc;
  try {
    nc = await connect({ servers: options.natsUrl, timeout: options.timeoutMs ?? 5_000, name: 'edgeplane-model-push', ...security });
  } catch (err) {
    throw new ModelError('PUSH_FAILED', `cannot connect to NATS at ${redactUrl(options.natsUrl)}: ${redactSecrets((err as Error).message)}`, { cause: err });
  }
  try {
    const store = await new Objm(jetstream(nc)).create(MODELS_BUCKET, { description: 'edgeplane model artifacts' });
    const pushed: PushedObject[] = [];
    for (const v of manifest.variants) {
      const bytes = readFileSync(join(dir, v.file));
      const hex = sha256(bytes);
      const object = objectName(manifest.model, v.name);
      const skipped = await upload(store, object, bytes, hex, progress);
      pushed.push({ variant: v.name, object, uri: `nats-obj://${MODELS_BUCKET}/${object}`, sizeBytes: bytes.byteLength, sha256: hex, skipped });
    }
    return pushed;
  } catch (err) {
    if (err instanceof ModelError) throw err;
    throw new ModelError('PUSH_FAILED', `push to ${MODELS_BUCKET} failed: ${(err as Error).message}`, { cause: err });
  } finally {
    await nc.drain();
  }
}

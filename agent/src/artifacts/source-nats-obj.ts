// nats-obj://<bucket>/<object>: reads the object's chunks straight from the JetStream stream
// behind the object store, so a resumed download starts at the chunk holding the first
// missing byte instead of reading the whole object again.
import { DeliverPolicy, jetstream, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ArtifactSource } from './source.ts';

export interface NatsObjSourceOptions {
  /** Abort when no chunk arrives for this long, ms (a server or link that went away). */
  stallTimeoutMs?: number;
}

export class ObjectMissingError extends Error {
  override readonly name = 'ObjectMissingError';
  constructor(bucket: string, object: string) {
    super(`object ${object} not found in bucket ${bucket}`);
  }
}

/**
 * The connection dropped (or was made to reconnect, as a credential renewal does) while a
 * read was in flight: the reply or chunks in flight are gone, so the read ends at once and
 * resumes from the bytes on disk rather than waiting out a request timeout or the stall timer.
 */
export class ReadInterruptedError extends Error {
  override readonly name = 'ReadInterruptedError';
  readonly code = 'ARTIFACT_READ_INTERRUPTED';
  constructor(object: string, event: string) {
    super(`read of ${object} interrupted by a NATS ${event}`);
  }
}
export const isReadInterruptedError = (err: unknown): err is ReadInterruptedError => err instanceof ReadInterruptedError;

/** Rejects once the connection is back after a drop; `stop()` ends the watch. */
function watchInterruption(nc: NatsConnection, object: string): { interrupted: Promise<never>; stop(): void } {
  const status = nc.status() as AsyncIterable<{ type: string }> & { stop(): void };
  let fail: (err: Error) => void = () => undefined;
  const interrupted = new Promise<never>((_, reject) => (fail = reject));
  interrupted.catch(() => undefined);
  void (async () => {
    for await (const s of status) {
      // Only once it is back: a read started while still disconnected would wait out its timeouts.
      if (s.type === 'reconnect') return fail(new ReadInterruptedError(object, s.type));
    }
  })();
  return { interrupted, stop: () => status.stop() };
}

/** Next message of a consumer, or an error when none arrives within `ms` or the connection drops. */
async function nextWithin(it: AsyncIterator<JsMsg>, messages: ConsumerMessages, ms: number, interrupted: Promise<never>): Promise<JsMsg | null> {
  let timer: NodeJS.Timeout | undefined;
  const stall = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      messages.stop();
      reject(new Error(`no chunk for ${ms} ms`));
    }, ms);
  });
  try {
    const r = await Promise.race([it.next(), stall, interrupted]);
    return r.done ? null : r.value;
  } finally {
    clearTimeout(timer);
  }
}

export function natsObjSource(nc: NatsConnection, bucket: string, object: string, options: NatsObjSourceOptions = {}): ArtifactSource {
  const stallMs = options.stallTimeoutMs ?? 15_000;
  return {
    async read(offset) {
      const watch = watchInterruption(nc, object);
      const orInterrupted = <T>(p: Promise<T>): Promise<T> => Promise.race([p, watch.interrupted]);
      try {
        return await readFrom(offset, watch, orInterrupted);
      } catch (err) {
        watch.stop();
        throw err;
      }
    },
  };

  async function readFrom(offset: number, watch: { interrupted: Promise<never>; stop(): void }, orInterrupted: <T>(p: Promise<T>) => Promise<T>) {
    // No account-info round trip first: a node's credential may read the store, not the account.
    const js = jetstream(nc, { checkAPI: false });
    const os = await orInterrupted(new Objm(js).open(bucket));
    const info = await orInterrupted(os.info(object));
    if (info === null || info.deleted) throw new ObjectMissingError(bucket, object);
    const stream = `OBJ_${bucket}`;
    const subject = `$O.${bucket}.C.${info.nuid}`;
    const chunkSize = info.options?.max_chunk_size ?? 128 * 1024;
    const firstChunk = Math.min(Math.floor(offset / chunkSize), Math.max(0, info.chunks - 1));

    let startSeq: number | undefined;
    if (firstChunk > 0) {
      // Headers only: find the stream sequence of the first missing chunk without its data.
      const probe = await orInterrupted(js.consumers.get(stream, { filter_subjects: subject, headers_only: true }));
      const messages = await orInterrupted(probe.consume({ max_messages: Math.min(firstChunk + 1, 1024) }));
      const it = messages[Symbol.asyncIterator]();
      try {
        for (let i = 0; i <= firstChunk; i++) {
          const m = await nextWithin(it, messages, stallMs, watch.interrupted);
          if (!m) throw new Error(`object ${object} ended before chunk ${firstChunk}`);
          if (i === firstChunk) startSeq = m.seq;
        }
      } finally {
        messages.stop();
      }
    }

    const consumer = await orInterrupted(
      js.consumers.get(stream, {
        filter_subjects: subject,
        ...(startSeq !== undefined ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq } : {}),
      }),
    );
    // A few chunks in flight: enough to keep the link busy, little to lose when it breaks.
    const messages = await orInterrupted(consumer.consume({ max_messages: 4 }));
    const it = messages[Symbol.asyncIterator]();
    const remaining = info.chunks - firstChunk;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      try {
        for (let i = 0; i < remaining; i++) {
          const m = await nextWithin(it, messages, stallMs, watch.interrupted);
          if (!m) throw new Error(`object ${object} ended after ${i} of ${remaining} chunks`);
          yield m.data;
        }
      } finally {
        messages.stop();
        watch.stop();
      }
    }
    return {
      chunks: chunks(),
      skip: offset - firstChunk * chunkSize,
      async close() {
        messages.stop();
        watch.stop();
      },
    };
  }
}

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

/** Next message of a consumer, or an error when none arrives within `ms`. */
async function nextWithin(it: AsyncIterator<JsMsg>, messages: ConsumerMessages, ms: number): Promise<JsMsg | null> {
  let timer: NodeJS.Timeout | undefined;
  const stall = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      messages.stop();
      reject(new Error(`no chunk for ${ms} ms`));
    }, ms);
  });
  try {
    const r = await Promise.race([it.next(), stall]);
    return r.done ? null : r.value;
  } finally {
    clearTimeout(timer);
  }
}

export function natsObjSource(nc: NatsConnection, bucket: string, object: string, options: NatsObjSourceOptions = {}): ArtifactSource {
  const stallMs = options.stallTimeoutMs ?? 15_000;
  return {
    async read(offset) {
      // No account-info round trip first: a node's credential may read the store, not the account.
      const js = jetstream(nc, { checkAPI: false });
      const os = await new Objm(js).open(bucket);
      const info = await os.info(object);
      if (info === null || info.deleted) throw new ObjectMissingError(bucket, object);
      const stream = `OBJ_${bucket}`;
      const subject = `$O.${bucket}.C.${info.nuid}`;
      const chunkSize = info.options?.max_chunk_size ?? 128 * 1024;
      const firstChunk = Math.min(Math.floor(offset / chunkSize), Math.max(0, info.chunks - 1));

      let startSeq: number | undefined;
      if (firstChunk > 0) {
        // Headers only: find the stream sequence of the first missing chunk without its data.
        const probe = await js.consumers.get(stream, { filter_subjects: subject, headers_only: true });
        const messages = await probe.consume({ max_messages: Math.min(firstChunk + 1, 1024) });
        const it = messages[Symbol.asyncIterator]();
        try {
          for (let i = 0; i <= firstChunk; i++) {
            const m = await nextWithin(it, messages, stallMs);
            if (!m) throw new Error(`object ${object} ended before chunk ${firstChunk}`);
            if (i === firstChunk) startSeq = m.seq;
          }
        } finally {
          messages.stop();
        }
      }

      const consumer = await js.consumers.get(stream, {
        filter_subjects: subject,
        ...(startSeq !== undefined ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq } : {}),
      });
      // A few chunks in flight: enough to keep the link busy, little to lose when it breaks.
      const messages = await consumer.consume({ max_messages: 4 });
      const it = messages[Symbol.asyncIterator]();
      const remaining = info.chunks - firstChunk;
      async function* chunks(): AsyncGenerator<Uint8Array> {
        try {
          for (let i = 0; i < remaining; i++) {
            const m = await nextWithin(it, messages, stallMs);
            if (!m) throw new Error(`object ${object} ended after ${i} of ${remaining} chunks`);
            yield m.data;
          }
        } finally {
          messages.stop();
        }
      }
      return {
        chunks: chunks(),
        skip: offset - firstChunk * chunkSize,
        async close() {
          messages.stop();
        },
      };
    },
  };
}

// A large JSON body sent compressed when the client allows it (Accept-Encoding), each encoding
// made once per version of the body and kept until the next version: two page loads of an
// unchanged fleet compress nothing again. Compression runs on libuv's thread pool.
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';

export type BodyEncoding = 'br' | 'gzip' | 'identity';

const brotliAsync = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

/** Bodies smaller than this go as they are: compressing them gains less than it costs. */
export const COMPRESS_MIN_BYTES = 1024;

/**
 * The encoding to answer with: brotli, else gzip, when the header allows it (`q=0` refuses, `*`
 * allows any), else identity. Ties go to brotli: smaller, and faster at the quality used here.
 */
export function chooseEncoding(header: string | string[] | undefined): BodyEncoding {
  const value = Array.isArray(header) ? header.join(',') : (header ?? '');
  const q = new Map<string, number>();
  for (const part of value.split(',')) {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (!coding) continue;
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const weight = qParam === undefined ? 1 : Number(qParam.slice(2));
    q.set(coding, Number.isFinite(weight) ? weight : 0);
  }
  const weight = (coding: string) => q.get(coding) ?? q.get('*') ?? 0;
  const br = weight('br');
  const gz = weight('gzip');
  if (br > 0 && br >= gz) return 'br';
  if (gz > 0) return 'gzip';
  return 'identity';
}

async function encode(body: Buffer, encoding: BodyEncoding): Promise<Buffer> {
  switch (encoding) {
    case 'identity':
      return body;
    case 'br':
      // Quality 4: about a tenth of the fleet's JSON in about 15 ms for 3 MB; 11 would take seconds.
      return brotliAsync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 4, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } });
    case 'gzip':
      return gzipAsync(body, { level: 4 });
  }
}

export interface Encoded {
  encoding: BodyEncoding;
  body: Buffer;
}

/** The latest version of one body, in each encoding asked for so far. */
export class EncodedBody {
  #version: number | null = null;
  #encoded = new Map<BodyEncoding, Promise<Encoded>>();

  /** `text()` at `version` in `encoding`, or identity when the body is too small to gain. */
  get(version: number, text: () => string, encoding: BodyEncoding): Promise<Encoded> {
    if (this.#version !== version) {
      this.#version = version;
      this.#encoded = new Map([['identity', Promise.resolve({ encoding: 'identity', body: Buffer.from(text()) })]]);
    }
    let out = this.#encoded.get(encoding);
    if (!out) {
      const plain = this.#encoded.get('identity')!;
      const encoded = plain.then(async ({ body }): Promise<Encoded> => (body.length < COMPRESS_MIN_BYTES ? { encoding: 'identity', body } : { encoding, body: await encode(body, encoding) }));
      const map = this.#encoded;
      map.set(encoding, encoded);
      // A failure is not kept: the next request tries again.
      encoded.catch(() => map.get(encoding) === encoded && map.delete(encoding));
      out = encoded;
    }
    return out;
  }
}

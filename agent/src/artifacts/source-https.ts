// https:// artifacts through node:https, asking for the missing part with a Range header.
import { request } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { redactUrl } from '@edgeplane/api';
import type { ArtifactSource } from './source.ts';

export interface HttpsSourceOptions {
  /** Extra trusted CA certificates (PEM), e.g. a site's private CA. */
  ca?: string | string[];
  /** Abort when no byte arrives for this long, ms. */
  stallTimeoutMs?: number;
}

export class HttpStatusError extends Error {
  override readonly name = 'HttpStatusError';
  readonly status: number;
  constructor(url: URL, status: number) {
    super(`GET ${redactUrl(url.href)} answered ${status}`);
    this.status = status;
  }
}

export function httpsSource(url: URL, options: HttpsSourceOptions = {}): ArtifactSource {
  return {
    read(offset) {
      return new Promise((resolve, reject) => {
        const req = request(url, {
          method: 'GET',
          headers: offset > 0 ? { Range: `bytes=${offset}-` } : {},
          ...(options.ca ? { ca: options.ca } : {}),
          timeout: options.stallTimeoutMs ?? 30_000,
        });
        req.on('timeout', () => req.destroy(new Error(`no data from ${url.host} for ${options.stallTimeoutMs ?? 30_000} ms`)));
        req.on('error', reject);
        req.on('response', (res: IncomingMessage) => {
          const status = res.statusCode ?? 0;
          // 206: the server honoured the range; 200: it sent everything, so drop the prefix.
          if (status !== 200 && status !== 206) {
            res.resume();
            reject(new HttpStatusError(url, status));
            return;
          }
          resolve({
            chunks: res as AsyncIterable<Uint8Array>,
            skip: status === 200 ? offset : 0,
            async close() {
              req.destroy();
            },
          });
        });
        req.end();
      });
    },
  };
}

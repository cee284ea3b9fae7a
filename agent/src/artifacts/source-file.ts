import { createReadStream } from 'node:fs';
import type { ArtifactSource } from './source.ts';

export function fileSource(path: string): ArtifactSource {
  return {
    async read(offset) {
      const stream = createReadStream(path, { start: offset });
      return {
        chunks: stream as AsyncIterable<Uint8Array>,
        skip: 0,
        async close() {
          stream.destroy();
        },
      };
    },
  };
}

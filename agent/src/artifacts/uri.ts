// Artifact URIs an assignment may name: https://, file:// and nats-obj://<bucket>/<object>.
import { fileURLToPath } from 'node:url';
import { UnsupportedUriError } from '../workloads/errors.ts';

export type ArtifactUri =
  | { scheme: 'file'; path: string }
  | { scheme: 'https'; url: URL }
  | { scheme: 'nats-obj'; bucket: string; object: string };

/** Object store bucket names: letters, digits, `-` and `_` (the stream is `OBJ_<bucket>`). */
const BUCKET = /^[A-Za-z0-9_-]+$/;

export function parseArtifactUri(uri: string): ArtifactUri {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new UnsupportedUriError(uri);
  }
  switch (url.protocol) {
    case 'file:':
      if (url.host !== '' && url.host !== 'localhost') throw new UnsupportedUriError(uri);
      try {
        return { scheme: 'file', path: fileURLToPath(url) };
      } catch {
        // An encoded `/` or a NUL byte: not a path this agent will open.
        throw new UnsupportedUriError(uri);
      }
    case 'https:':
      return { scheme: 'https', url };
    case 'nats-obj:': {
      // Object names may contain `/`, so everything after the bucket is the name.
      let object: string;
      try {
        object = decodeURIComponent(url.pathname.replace(/^\//, ''));
      } catch {
        throw new UnsupportedUriError(uri);
      }
      if (!BUCKET.test(url.host) || object === '') throw new UnsupportedUriError(uri);
      return { scheme: 'nats-obj', bucket: url.host, object };
    }
    default:
      throw new UnsupportedUriError(uri);
  }
}

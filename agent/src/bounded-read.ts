// Reads a small text file (configuration, override) without trusting its size: at most
// `maxBytes + 1` bytes are read, so a huge or endless file costs a bounded read and the
// caller refuses it with its own typed error.
import { closeSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';

/** Configuration and override files are a few KiB; YAML parsing is superlinear past this. */
export const MAX_CONFIG_FILE_BYTES = 32 * 1024;

export interface BoundedText {
  text: string;
  /** True when the file holds more than `maxBytes`; `text` is then only its start. */
  tooLarge: boolean;
}

function finish(buf: Buffer, n: number, maxBytes: number): BoundedText {
  return { text: buf.subarray(0, Math.min(n, maxBytes)).toString('utf8'), tooLarge: n > maxBytes };
}

export function readTextBoundedSync(path: string, maxBytes = MAX_CONFIG_FILE_BYTES): BoundedText {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(maxBytes + 1);
    let n = 0;
    for (let r = -1; r !== 0 && n < buf.length; n += r) r = readSync(fd, buf, n, buf.length - n, null);
    return finish(buf, n, maxBytes);
  } finally {
    closeSync(fd);
  }
}

export async function readTextBounded(path: string, maxBytes = MAX_CONFIG_FILE_BYTES): Promise<BoundedText> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(maxBytes + 1);
    let n = 0;
    for (let r = -1; r !== 0 && n < buf.length; n += r) r = (await fh.read(buf, n, buf.length - n, null)).bytesRead;
    return finish(buf, n, maxBytes);
  } finally {
    await fh.close();
  }
}

// Reproducible tar archives (POSIX ustar, with a PAX header only for names too long for
// ustar): entries sorted by path, one fixed mtime, numeric owners and no user or group names,
// so the same files always give the same bytes. Also a reader, for listing and checking.
import { ImageError } from './errors.ts';

export interface TarFile {
  type: 'file';
  path: string;
  mode: number;
  uid: number;
  gid: number;
  data: Uint8Array;
}
export interface TarDir {
  type: 'dir';
  path: string;
  mode: number;
  uid: number;
  gid: number;
}
export interface TarSymlink {
  type: 'symlink';
  path: string;
  target: string;
  uid: number;
  gid: number;
}
export type TarEntry = TarFile | TarDir | TarSymlink;

/** Every entry's mtime: the epoch, as distroless does, so layers do not change per commit. */
export const TAR_MTIME = 0;
const BLOCK = 512;

/** `./usr/bin/x`, `/usr/bin/x/` -> `usr/bin/x`; refuses `..` and empty paths. */
export function normalizePath(path: string): string {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0) throw new ImageError('TAR_PATH', `tar entry path ${JSON.stringify(path)} is empty`);
  if (parts.includes('..')) throw new ImageError('TAR_PATH', `tar entry path ${JSON.stringify(path)} contains ..`);
  return parts.join('/');
}

/** Byte order of the UTF-8 path, the order `LC_ALL=C sort` and most layer tools use. */
export function compareEntries(a: { path: string }, b: { path: string }): number {
  return Buffer.compare(Buffer.from(normalizePath(a.path)), Buffer.from(normalizePath(b.path)));
}

function octal(value: number, width: number): string {
  const digits = value.toString(8);
  if (digits.length > width - 1) throw new ImageError('TAR_FIELD', `value ${value} does not fit a ${width}-byte tar field`);
  return digits.padStart(width - 1, '0') + '\0';
}

function putString(header: Buffer, offset: number, width: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > width) throw new ImageError('TAR_FIELD', `${JSON.stringify(value)} does not fit a ${width}-byte tar field`);
  bytes.copy(header, offset);
}

/** ustar splits a long path at a slash into prefix (155) and name (100); null when it cannot. */
function splitUstar(path: string): { prefix: string; name: string } | null {
  if (Buffer.byteLength(path) <= 100) return { prefix: '', name: path };
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name !== '') return { prefix, name };
  }
  return null;
}

interface HeaderFields {
  path: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  typeflag: string;
  linkname: string;
}

function header(f: HeaderFields): Buffer {
  const h = Buffer.alloc(BLOCK);
  const split = splitUstar(f.path) ?? { prefix: '', name: Buffer.from(f.path).subarray(0, 100).toString('utf8') };
  putString(h, 0, 100, split.name);
  putString(h, 100, 8, octal(f.mode & 0o7777, 8));
  putString(h, 108, 8, octal(f.uid, 8));
  putString(h, 116, 8, octal(f.gid, 8));
  putString(h, 124, 12, octal(f.size, 12));
  putString(h, 136, 12, octal(TAR_MTIME, 12));
  h.fill(' ', 148, 156);
  putString(h, 156, 1, f.typeflag);
  putString(h, 157, 100, Buffer.byteLength(f.linkname) <= 100 ? f.linkname : '');
  putString(h, 257, 6, 'ustar\0');
  putString(h, 263, 2, '00');
  putString(h, 329, 8, octal(0, 8));
  putString(h, 337, 8, octal(0, 8));
  putString(h, 345, 155, split.prefix);
  let sum = 0;
  for (const byte of h) sum += byte;
  putString(h, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

function pad(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rest);
}

/** A PAX record: "<len> <key>=<value>\n", where len counts the whole record itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (Buffer.byteLength(`${len}${body}`) !== len) len++;
  return `${len}${body}`;
}

function paxHeader(path: string, records: Record<string, string>): Buffer[] {
  const keys = Object.keys(records).sort();
  if (keys.length === 0) return [];
  const data = Buffer.from(keys.map((k) => paxRecord(k, records[k] as string)).join(''));
  const paxName = `PaxHeaders/${Buffer.from(path).subarray(0, 80).toString('utf8').replace(/\uFFFD/g, '')}`;
  return [header({ path: paxName, mode: 0o644, uid: 0, gid: 0, size: data.length, typeflag: 'x', linkname: '' }), data, pad(data.length)];
}

/**
 * The tar stream of these entries, sorted by path. Directory paths get their trailing slash
 * here; duplicate paths are refused (a layer must say one thing about each path).
 */
export function writeTar(entries: readonly TarEntry[]): Buffer {
  const sorted = [...entries].sort(compareEntries);
  const chunks: Buffer[] = [];
  let previous: string | undefined;
  for (const entry of sorted) {
    const path = normalizePath(entry.path);
    if (path === previous) throw new ImageError('TAR_DUPLICATE', `tar entry ${path} appears twice`);
    previous = path;
    const name = entry.type === 'dir' ? `${path}/` : path;
    const linkname = entry.type === 'symlink' ? entry.target : '';
    const pax: Record<string, string> = {};
    if (!splitUstar(name)) pax.path = name;
    if (Buffer.byteLength(linkname) > 100) pax.linkpath = linkname;
    chunks.push(...paxHeader(name, pax));
    const size = entry.type === 'file' ? entry.data.length : 0;
    const mode = entry.type === 'symlink' ? 0o777 : entry.mode;
    const typeflag = entry.type === 'file' ? '0' : entry.type === 'dir' ? '5' : '2';
    chunks.push(header({ path: name, mode, uid: entry.uid, gid: entry.gid, size, typeflag, linkname }));
    if (entry.type === 'file') chunks.push(Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength), pad(size));
  }
  chunks.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(chunks);
}

export interface TarListing {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  target: string;
  /** Offset of the file's data in the archive. */
  offset: number;
}

function readString(buf: Buffer, offset: number, width: number): string {
  const raw = buf.subarray(offset, offset + width);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? width : end).toString('utf8');
}

function readOctal(buf: Buffer, offset: number, width: number, field: string, at: number): number {
  const text = readString(buf, offset, width).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new ImageError('TAR_CORRUPT', `tar header at byte ${at}: field ${field} is not octal (${JSON.stringify(text)})`);
  return parseInt(text, 8);
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const space = data.indexOf(0x20, i);
    if (space === -1) break;
    const len = parseInt(data.subarray(i, space).toString('utf8'), 10);
    if (!Number.isFinite(len) || len <= 0) throw new ImageError('TAR_CORRUPT', `PAX record at byte ${i} has no length`);
    const record = data.subarray(space + 1, i + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq !== -1) out[record.slice(0, eq)] = record.slice(eq + 1);
    i += len;
  }
  return out;
}

/** Entries of a tar stream (ustar, PAX and GNU long names), in archive order. */
export function listTar(buf: Buffer): TarListing[] {
  const out: TarListing[] = [];
  let at = 0;
  let pending: Record<string, string> = {};
  let gnuLong: { path?: string; target?: string } = {};
  while (at + BLOCK <= buf.length) {
    const h = buf.subarray(at, at + BLOCK);
    if (h.every((b) => b === 0)) break;
    const size = readOctal(h, 124, 12, 'size', at);
    const typeflag = String.fromCharCode(h[156] ?? 0x30);
    const dataAt = at + BLOCK;
    const next = dataAt + Math.ceil(size / BLOCK) * BLOCK;
    if (next > buf.length) throw new ImageError('TAR_CORRUPT', `tar entry at byte ${at} runs past the end`);
    const data = buf.subarray(dataAt, dataAt + size);
    if (typeflag === 'x') pending = { ...pending, ...parsePax(data) };
    else if (typeflag === 'L') gnuLong.path = readString(data, 0, size);
    else if (typeflag === 'K') gnuLong.target = readString(data, 0, size);
    else if (typeflag !== 'g') {
      const prefix = readString(h, 345, 155);
      const name = readString(h, 0, 100);
      const path = pending.path ?? gnuLong.path ?? (prefix ? `${prefix}/${name}` : name);
      const type = typeflag === '0' || typeflag === '\0' || typeflag === '7' ? 'file' : typeflag === '5' ? 'dir' : typeflag === '2' ? 'symlink' : typeflag === '1' ? 'hardlink' : 'other';
      out.push({
        path: path.replace(/\/$/, ''),
        type,
        mode: readOctal(h, 100, 8, 'mode', at),
        uid: readOctal(h, 108, 8, 'uid', at),
        gid: readOctal(h, 116, 8, 'gid', at),
        size,
        target: pending.linkpath ?? gnuLong.target ?? readString(h, 157, 100),
        offset: dataAt,
      });
      pending = {};
      gnuLong = {};
    }
    at = next;
  }
  return out;
}

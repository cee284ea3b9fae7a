// The node's identity on disk, in its state dir: `nats.creds` (its JWT and nkey seed, mode
// 0600) and `ca.pem` (the CA it pinned). Writes are atomic (temp file, fsync, rename, fsync of
// the directory), so a power cut during renewal leaves the old credential or the new one,
// never half of each. Nothing here logs; a seed never leaves this module but in the file.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { nodeCreds, parseCredsFile, readUserJwt, type UserClaimsView } from '@edgeplane/trust';
import { CredentialsError } from './errors.ts';

export const CREDS_FILE = 'nats.creds';
export const CA_FILE = 'ca.pem';
const MAX_FILE_BYTES = 64 * 1024;

export interface NodeCredentials {
  jwt: string;
  /** The nkey seed (`SU...`): never logged, never sent. */
  seed: string;
  claims: UserClaimsView;
}

export interface LoadedCredentials extends NodeCredentials {
  file: string;
  /** The file was readable by others and has been made 0600. */
  tightened: boolean;
}

export const credsPath = (stateDir: string) => join(stateDir, CREDS_FILE);
export const caPath = (stateDir: string) => join(stateDir, CA_FILE);

/** Writes `data` to `path` atomically with `mode` (whatever the umask). */
export async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(tmp, 'wx', mode);
    try {
      await handle.chmod(mode);
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/** Credentials from text: the JWT must be a user JWT; `source` names the file in errors. */
export function parseCredentials(text: string, source: string): NodeCredentials {
  const parsed = parseCredsFile(text);
  if (!parsed) throw new CredentialsError(source, 'not a NATS credentials file (a user JWT and an nkey seed)');
  const claims = readUserJwt(parsed.jwt);
  if (!claims) throw new CredentialsError(source, 'its JWT is not a NATS user JWT');
  return { jwt: parsed.jwt, seed: parsed.seed, claims };
}

/** Reads a credentials file; null when it does not exist. Loosened permissions are tightened. */
export async function readCredentials(file: string): Promise<LoadedCredentials | null> {
  let text: string;
  let tightened = false;
  try {
    const st = await stat(file);
    if (st.size > MAX_FILE_BYTES) throw new CredentialsError(file, `larger than ${MAX_FILE_BYTES} bytes; not a credentials file`);
    if ((st.mode & 0o077) !== 0) {
      // Best effort: a mounted Secret may be read-only, and reading it is still right.
      tightened = await chmod(file, 0o600).then(() => true, () => false);
    }
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    if (err instanceof CredentialsError) throw err;
    throw new CredentialsError(file, `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  return { ...parseCredentials(text, file), file, tightened };
}

/** Writes the node's credentials (JWT + seed) to `<stateDir>/nats.creds`, 0600, atomically. */
export async function saveCredentials(stateDir: string, jwt: string, seed: string): Promise<string> {
  const file = credsPath(stateDir);
  await writeFileAtomic(file, nodeCreds(jwt, seed), 0o600);
  return file;
}

/** The pinned CA kept in the state dir; null when none was kept. */
export async function readCa(stateDir: string): Promise<string | null> {
  try {
    return await readFile(caPath(stateDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export async function saveCa(stateDir: string, pem: string): Promise<string> {
  const file = caPath(stateDir);
  await writeFileAtomic(file, pem, 0o644);
  return file;
}

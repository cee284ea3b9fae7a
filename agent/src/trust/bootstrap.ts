// How the agent gets its NATS identity at start. Secure by default: it connects with its own
// credential (enrolled earlier and kept in the state dir, or given with --nats-creds), or enrols
// with a bootstrap token, or, only when told --insecure-nats, without any. The CA comes from
// --nats-ca, or from the server itself, checked against the --ca-hash pin and kept.
import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import type { AgentConfig } from '../config.ts';
import { backoffMs, sleep } from '../fleet/backoff.ts';
import { chainHashes, pemMatchesPin } from './ca-pin.ts';
import { discoverPinnedCa } from './ca-discovery.ts';
import { credsPath, readCa, readCredentials, saveCa, saveCredentials, type LoadedCredentials, type NodeCredentials } from './creds-store.ts';
import { enroll } from './enroll.ts';
import { CaFileError, CaPinMismatchError, CredentialsError, JoinTokenError, NoIdentityError, isCaDiscoveryError, isCredentialsError } from './errors.ts';
import { parseJoinToken, type JoinToken } from './join-token.ts';
import { createNodeKey } from './proof.ts';
import { isExpired } from './renewal-timing.ts';

export type IdentitySettings = Pick<
  AgentConfig,
  'node' | 'natsUrl' | 'natsCreds' | 'natsCa' | 'stateDir' | 'bootstrapToken' | 'bootstrapTokenFile' | 'caHash' | 'insecureNats'
>;

export type IdentityPlan =
  | { kind: 'insecure' }
  | { kind: 'credentials'; credentials: LoadedCredentials; source: 'state' | 'flag' }
  | { kind: 'enrol'; join: JoinToken };

export interface CredentialChoice {
  credentials: LoadedCredentials;
  source: 'state' | 'flag';
  /** Past its expiry: the server will refuse it; chosen only when there is no way to enrol. */
  expired: boolean;
}

/**
 * Pure: which credential to connect with. The state dir's (written by enrolment and renewal)
 * wins over --nats-creds when it is a renewal of the same key; otherwise the operator's file
 * wins. A state dir credential for another node is never used. An expired one is chosen only
 * when the agent cannot enrol instead.
 */
export function chooseCredentials(
  node: string,
  flag: LoadedCredentials | null,
  stored: LoadedCredentials | null,
  nowMs: number,
  canEnrol: boolean,
): CredentialChoice | null {
  const own = stored && stored.claims.name === node ? stored : null;
  const valid = (c: LoadedCredentials | null): c is LoadedCredentials => c !== null && !isExpired(c.claims, nowMs);
  if (valid(own) && valid(flag)) {
    const renewed = own.claims.subject === flag.claims.subject && own.claims.issuedAtS >= flag.claims.issuedAtS;
    return renewed ? { credentials: own, source: 'state', expired: false } : { credentials: flag, source: 'flag', expired: false };
  }
  if (valid(flag)) return { credentials: flag, source: 'flag', expired: false };
  if (valid(own)) return { credentials: own, source: 'state', expired: false };
  if (canEnrol) return null;
  if (flag) return { credentials: flag, source: 'flag', expired: true };
  if (own) return { credentials: own, source: 'state', expired: true };
  return null;
}

async function readJoinToken(s: IdentitySettings): Promise<JoinToken> {
  if (s.bootstrapToken !== undefined) return parseJoinToken(s.bootstrapToken);
  const file = s.bootstrapTokenFile!;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new JoinTokenError('file', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseJoinToken(text);
}

export const NO_IDENTITY_MESSAGE =
  'no NATS identity: enrol with --bootstrap-token (or --bootstrap-token-file) and --ca-hash sha256:<hex>, ' +
  'or connect with --nats-creds FILE (and --nats-ca or --ca-hash); --insecure-nats only for a lab server without authentication';

/**
 * Decides, from local files only, what the agent connects as. Throws a fatal IdentityError
 * (no identity at all, an unreadable --nats-creds, a malformed join token) before anything
 * is started.
 */
export async function planIdentity(s: IdentitySettings, log: Logger, nowMs = Date.now()): Promise<IdentityPlan> {
  let stored: LoadedCredentials | null = null;
  try {
    stored = await readCredentials(credsPath(s.stateDir));
  } catch (err) {
    if (!isCredentialsError(err)) throw err;
    log.warn({ err, file: credsPath(s.stateDir) }, 'ignoring the credential in the state dir');
  }
  if (stored && stored.claims.name !== s.node) {
    log.warn({ file: stored.file, credentialFor: stored.claims.name }, 'the state dir holds a credential for another node; ignoring it');
  }
  let flag: LoadedCredentials | null = null;
  if (s.natsCreds !== undefined) {
    flag = await readCredentials(s.natsCreds);
    if (!flag) throw new CredentialsError(s.natsCreds, 'does not exist (--nats-creds)');
  }
  const canEnrol = s.bootstrapToken !== undefined || s.bootstrapTokenFile !== undefined;
  const choice = chooseCredentials(s.node, flag, stored, nowMs, canEnrol);
  if (choice) {
    const c = choice.credentials;
    if (c.tightened) log.warn({ file: c.file }, 'credential file was readable by others; made it 0600');
    if (choice.expired) log.error({ file: c.file, expiresAtS: c.claims.expiresAtS }, 'the credential has expired and the server will refuse it; enrol again with a new bootstrap token');
    if (canEnrol) log.info({ file: c.file }, 'credential found; enrolment skipped');
    return { kind: 'credentials', credentials: c, source: choice.source };
  }
  if (canEnrol) return { kind: 'enrol', join: await readJoinToken(s) };
  if (s.insecureNats) return { kind: 'insecure' };
  throw new NoIdentityError(NO_IDENTITY_MESSAGE);
}

const DISCOVERY_BACKOFF = { initialMs: 1_000, maxMs: 30_000 };

async function readCaFile(file: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
    new X509Certificate(pem);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CaFileError(file, code && !code.startsWith('ERR_') ? `cannot read: ${code}` : 'not a PEM certificate', { cause: err });
  }
  return pem;
}

/**
 * The CA (PEM) to verify the server with: --nats-ca, or the pinned one (kept in the state
 * dir, fetched from the server when missing or not the pinned one). Undefined: the system's
 * CAs. Null: stopped while the server was unreachable. A pin mismatch throws.
 */
export async function resolveCa(s: IdentitySettings, log: Logger, signal?: AbortSignal): Promise<string | undefined | null> {
  if (s.natsCa !== undefined) {
    const pem = await readCaFile(s.natsCa);
    if (s.caHash !== undefined && !pemMatchesPin(pem, s.caHash)) throw new CaPinMismatchError(s.natsCa, s.caHash, chainHashes([new X509Certificate(pem).raw]));
    return pem;
  }
  if (s.caHash === undefined) return undefined;
  const kept = await readCa(s.stateDir);
  if (kept && pemMatchesPin(kept, s.caHash)) return kept;
  const urls = s.natsUrl.split(',').map((u) => u.trim());
  for (let attempt = 0; !signal?.aborted; attempt++) {
    try {
      const ca = await discoverPinnedCa(urls, s.caHash);
      const file = await saveCa(s.stateDir, ca.pem);
      log.info({ caHash: ca.hash, file }, 'fleet CA fetched from the server, matches the pin, kept');
      return ca.pem;
    } catch (err) {
      if (!isCaDiscoveryError(err)) throw err;
      const delay = backoffMs(attempt, DISCOVERY_BACKOFF);
      log[attempt < 3 ? 'warn' : 'error']({ err, retryInMs: delay }, 'cannot fetch the server certificate chain to check the CA pin; retrying');
      await sleep(delay, signal);
    }
  }
  return null;
}

/** Enrols with the join token (retrying until accepted) and keeps the credential; null when stopped. */
export async function enrolAndKeep(s: IdentitySettings, join: JoinToken, caPem: string, log: Logger, signal?: AbortSignal): Promise<NodeCredentials | null> {
  const key = createNodeKey();
  log.info({ tokenId: join.id, publicKey: key.publicKey, tokenExpiresAtS: join.expiresAtS }, 'enrolling with the bootstrap token');
  const issued = await enroll({ servers: s.natsUrl.split(',').map((u) => u.trim()), caPem, node: s.node, join, key, log, ...(signal ? { signal } : {}) });
  if (!issued) return null;
  const file = await saveCredentials(s.stateDir, issued.jwt, key.seed);
  log.info({ file, expiresAtS: issued.claims.expiresAtS, tags: issued.claims.tags }, 'node credential kept in the state dir');
  return { jwt: issued.jwt, seed: key.seed, claims: issued.claims };
}

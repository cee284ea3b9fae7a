// The NATS connection of an agent: the first connection is retried with backoff until it
// succeeds or the agent stops, since the uplink may be down at boot; after that nats.js
// reconnects forever.
import { readFile } from 'node:fs/promises';
import { connect, credsAuthenticator, type Authenticator, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { inboxPrefix } from '@edgeplane/trust';
import { backoffMs, sleep } from './backoff.ts';

export interface ConnectOptions {
  url: string;
  node: string;
  log: Logger;
  credsFile?: string;
  /** Called on every (re)connect, so a renewed credential is used from the next one; wins over credsFile. */
  authenticator?: Authenticator;
  /** CA (PEM file) the server's certificate must chain to. */
  caFile?: string;
  /** CA (PEM text); wins over caFile. */
  caPem?: string;
  /** Stops the first-connection loop; the promise then resolves null. */
  signal?: AbortSignal;
  /** Between reconnect attempts once connected, ms. */
  reconnectTimeWaitMs?: number;
}

export async function connectNats(opts: ConnectOptions): Promise<NatsConnection | null> {
  const authenticator = opts.authenticator ?? (opts.credsFile ? credsAuthenticator(await readFile(opts.credsFile)) : undefined);
  const ca = opts.caPem ?? (opts.caFile ? await readFile(opts.caFile, 'utf8') : undefined);
  const waitMs = opts.reconnectTimeWaitMs ?? 2000;
  // Reconnects refused for authorization (a revoked or expired credential) back off to a minute,
  // so such a node costs the server little; any other failure retries at waitMs, so a node is
  // back within seconds of a server restart.
  let authRefusals = 0;
  // A reconnect the agent asked for (a renewed credential) dials at once: nats.js otherwise
  // waits out waitMs since the last connect attempt, and the node is offline meanwhile.
  let forced = false;
  const delayMs = (): number => {
    if (forced) {
      forced = false;
      return 0;
    }
    return authRefusals === 0 ? waitMs : backoffMs(authRefusals, { initialMs: waitMs, maxMs: Math.max(waitMs, 60_000) });
  };
  for (let attempt = 0; !opts.signal?.aborted; attempt++) {
    try {
      const nc = await connect({
        servers: opts.url.split(',').map((s) => s.trim()),
        name: `edgeplane-agent/${opts.node}`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: waitMs,
        reconnectDelayHandler: delayMs,
        // Keepalives are an idle link's only traffic besides heartbeats: keep them rare.
        pingInterval: 120_000,
        ...(authenticator ? { authenticator } : {}),
        // An authorization error (a server still loading its accounts, a credential renewed
        // meanwhile) must not end the connection for good: the agent serves on and retries.
        ignoreAuthErrorAbort: true,
        ...(ca ? { tls: { ca } } : {}),
        // Replies come only under the node's own prefix, the one its credential may read.
        inboxPrefix: inboxPrefix.node(opts.node),
      });
      void (async () => {
        for await (const s of nc.status()) {
          if (s.type === 'forceReconnect') forced = true;
          else if (s.type === 'reconnect') authRefusals = 0;
          else if (s.type === 'error' && /Authorization|Authentication/i.test(s.error.name)) authRefusals++;
        }
      })();
      return nc;
    } catch (err) {
      const delay = backoffMs(attempt, { initialMs: 500, maxMs: 15_000 });
      opts.log[attempt < 3 ? 'info' : 'warn']({ err, retryInMs: delay }, 'NATS not reachable; serving on and retrying');
      await sleep(delay, opts.signal);
    }
  }
  return null;
}

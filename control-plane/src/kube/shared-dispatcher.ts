// Kept-alive connections to the API server. client-node 2.x builds a new undici Agent for every
// request (KubeConfig's private createDispatcher, called from applySecurityAuthentication), so
// every API call pays a TLS handshake and leaves its socket idle until undici's timeout. Under
// an enrolment wave that is 4x the client's CPU and a third of the API server's throughput (see
// docs/benchmarks.md, enroll). This keeps one dispatcher per set of TLS options and hands it to
// every request, so calls share kept-alive connections as client-go's transport does.
import { createHash, type Hash } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';

type CreateDispatcher = (cluster: unknown, agentOptions: unknown) => unknown;
type Closable = { close?: () => Promise<void> };

/** Hashes TLS options (certificates and keys included) without keeping them. */
function fingerprint(value: unknown, h: Hash): void {
  if (value === undefined || value === null) h.update(`${String(value)};`);
  else if (Buffer.isBuffer(value) || value instanceof Uint8Array) h.update('b:').update(value).update(';');
  else if (Array.isArray(value)) {
    h.update('[');
    for (const v of value) fingerprint(v, h);
    h.update(']');
  } else if (typeof value === 'object') {
    h.update('{');
    for (const k of Object.keys(value).sort()) {
      h.update(`${k}=`);
      fingerprint((value as Record<string, unknown>)[k], h);
    }
    h.update('}');
  } else h.update(`${typeof value}:${String(value)};`);
}

/**
 * Makes every request through `kc` share one dispatcher while its TLS options stay the same; a
 * rotated client certificate gets a new one and the old one is closed once its requests end.
 * False when this client-node version has no createDispatcher to wrap (nothing is changed).
 */
export function shareConnections(kc: KubeConfig): boolean {
  const target = kc as unknown as { createDispatcher?: CreateDispatcher };
  const original = target.createDispatcher;
  if (typeof original !== 'function') return false;
  let current: { key: string; dispatcher: unknown } | undefined;
  target.createDispatcher = (cluster, agentOptions) => {
    const h = createHash('sha256');
    fingerprint(kc.createDispatcherOptions(cluster as never, agentOptions as never), h);
    const key = h.digest('hex');
    if (current?.key === key) return current.dispatcher;
    const previous = current?.dispatcher as Closable | undefined;
    current = { key, dispatcher: original.call(kc, cluster, agentOptions) };
    void previous?.close?.().catch(() => undefined);
    return current.dispatcher;
  };
  return true;
}

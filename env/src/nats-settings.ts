// How the processes the environment starts reach its nats-server (JWT auth and TLS): each gets
// its own credentials file and the CA, as a deployment gives them.
import type { NatsConnection } from '@nats-io/transport-node';
import type { NatsServer } from '@edgeplane/env';

export interface NatsSettings {
  natsUrl: string;
  natsCreds: string;
  natsCa: string;
}

function caOf(nats: NatsServer): string {
  if (!nats.caFile) throw new Error('this nats-server runs without TLS; a test that needs that must say so and pass insecure settings itself');
  return nats.caFile;
}

/** An agent's settings: node credentials for its name, with `serve:` tags for what it will serve. */
export async function agentNats(nats: NatsServer, node: string, tags: string[] = []): Promise<NatsSettings> {
  return { natsUrl: nats.url, natsCreds: await nats.credsFile({ node, tags }), natsCa: caOf(nats) };
}

/** The control plane's settings (its own privileged user), for `testConfig` or a child's environment. */
export async function controlPlaneNats(nats: NatsServer): Promise<NatsSettings & { insecureNats: false }> {
  return { natsUrl: nats.url, natsCreds: await nats.credsFile('control-plane'), natsCa: caOf(nats), insecureNats: false };
}

/** The same settings as a control plane's environment variables. */
export function controlPlaneNatsEnv(s: NatsSettings): Record<string, string> {
  return { EP_NATS_URL: s.natsUrl, EP_NATS_CREDS: s.natsCreds, EP_NATS_CA: s.natsCa };
}

/** The same settings as an agent's environment variables. */
export function agentNatsEnv(s: NatsSettings): Record<string, string> {
  return { EP_AGENT_NATS_URL: s.natsUrl, EP_AGENT_NATS_CREDS: s.natsCreds, EP_AGENT_NATS_CA: s.natsCa };
}

/** A permissions violation the server reported on a connection. */
export interface Violation {
  operation: string;
  subject: string;
}

/** Records, from now on, the permissions violations the server reports on a connection. */
export function recordViolations(nc: NatsConnection): Violation[] {
  const seen: Violation[] = [];
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type !== 'error') continue;
      const e = s.error as Error & { operation?: string; subject?: string };
      if (e.name === 'PermissionViolationError') seen.push({ operation: e.operation ?? '', subject: e.subject ?? '' });
    }
  })();
  return seen;
}

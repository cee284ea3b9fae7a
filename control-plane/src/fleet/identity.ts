// Node identity on the control plane's side: enrolment, credential renewal and revocation,
// wired from the trust file. Without one they are off, and the control plane says so once.
// The responders and the revoker run while this replica leads; the rest lives with the process.
import { readFile } from 'node:fs/promises';
import { nodeIdentityOf, type EdgeNode } from '@edgeplane/api';
import { parseTrustMaterial, systemUserCreds, type TrustMaterial } from '@edgeplane/trust';
import type { KV } from '@nats-io/kv';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { DEFAULT_NODE_CREDENTIAL_TTL_MS, type Config } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { BootstrapTokens } from '../kube/bootstrap-tokens.ts';
import type { KubeClients } from '../kube/client.ts';
import { ResourceInformer } from '../kube/informers.ts';
import { nodesKind } from '../kube/resources.ts';
import type { Metrics } from '../metrics.ts';
import { FleetAccountClaims } from './account-claims.ts';
import { EnrollResponder } from './enroll.ts';
import type { MalformedReporter } from './malformed.ts';
import { natsSecurityOptions } from './nats-connect.ts';
import { NodeCredentialIssuer } from './node-credentials.ts';
import { RenewResponder } from './renew.ts';
import { Revoker } from './revoker.ts';

const TRUST_SETTING = 'EP_TRUST_FILE (--trust-file)';

export interface IdentityServicesOptions {
  config: Config;
  log: Logger;
  kube: KubeClients;
  nc: NatsConnection;
  kv: KV;
  metrics: Metrics;
  malformed: MalformedReporter;
  /** The control plane's EdgeNode informer; reused when it watches every node. */
  nodes: ResourceInformer<EdgeNode>;
  mayWrite: () => boolean;
  onKubeWrite?: (resource: string) => void;
}

export interface IdentityServices {
  enroll: EnrollResponder;
  renew: RenewResponder;
  revoker: Revoker;
  /** On taking the lead. */
  start(): void;
  /** On losing it. */
  stop(): Promise<void>;
  /** On shutdown, after stop. */
  close(): Promise<void>;
}

export async function loadTrustFile(path: string): Promise<TrustMaterial> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(TRUST_SETTING, `cannot read ${path}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause });
  }
  try {
    return parseTrustMaterial(text);
  } catch (cause) {
    throw new ConfigError(TRUST_SETTING, (cause as Error).message, { cause });
  }
}

/** Null when no trust file is configured. */
export async function startIdentityServices(o: IdentityServicesOptions): Promise<IdentityServices | null> {
  const { config, log } = o;
  if (!config.trustFile) {
    log.warn({ setting: TRUST_SETTING }, 'no trust file: node enrolment, credential renewal and revocation are off');
    return null;
  }
  if (config.insecureNats) throw new ConfigError(TRUST_SETTING, 'needs NATS with JWT authentication; it cannot be combined with EP_INSECURE_NATS (--insecure-nats)');
  const trust = await loadTrustFile(config.trustFile);

  const closers: (() => Promise<unknown>)[] = [];
  try {
    // Account updates go over the system account, with the fleet's TLS settings.
    const { tls } = await natsSecurityOptions(config);
    const system = await connect({
      servers: config.natsUrl,
      name: `ep-control-plane-${config.identity}-system`,
      authenticator: credsAuthenticator(new TextEncoder().encode(await systemUserCreds(trust))),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      ...(tls ? { tls } : {}),
    }).catch((cause: unknown) => {
      throw new Error(`cannot connect to NATS at ${config.natsUrl} as the system user: ${(cause as Error).message}`, { cause });
    });
    closers.push(() => system.drain());

    // Revocation must see every EdgeNode: one relabelled out of the selector is not deleted.
    let identities = o.nodes;
    if (config.nodeSelector) {
      identities = new ResourceInformer<EdgeNode>({ ...o.kube, kind: nodesKind, log });
      await identities.start();
      const own = identities;
      closers.push(() => own.stop());
    }
    const credentials = new NodeCredentialIssuer({ trust, kv: o.kv, ttlMs: config.nodeCredentialTtlMs ?? DEFAULT_NODE_CREDENTIAL_TTL_MS, log });
    const revoker = new Revoker({ nodes: identities, claims: new FleetAccountClaims({ trust, system }), metrics: o.metrics, log, resyncMs: config.resyncMs });
    const tokens = new BootstrapTokens({
      core: o.kube.core,
      namespace: config.bootstrapNamespace ?? config.leaseNamespace,
      mayWrite: o.mayWrite,
      ...(o.onKubeWrite ? { onWrite: o.onKubeWrite } : {}),
    });
    const enroll = new EnrollResponder({
      nc: o.nc,
      custom: o.kube.custom,
      tokens,
      credentials,
      revoker,
      metrics: o.metrics,
      malformed: o.malformed,
      log,
      mayWrite: o.mayWrite,
      ...(o.onKubeWrite ? { onKubeWrite: o.onKubeWrite } : {}),
    });
    const lookup = identities;
    const renew = new RenewResponder({
      nc: o.nc,
      identityOf: (node) => {
        const obj = lookup.get(node);
        return obj ? nodeIdentityOf(obj.metadata) : null;
      },
      credentials,
      metrics: o.metrics,
      malformed: o.malformed,
      log,
    });
    log.info({ bootstrapNamespace: tokens.namespace, credentialTtlMs: config.nodeCredentialTtlMs ?? DEFAULT_NODE_CREDENTIAL_TTL_MS }, 'node enrolment, renewal and revocation on');
    return {
      enroll,
      renew,
      revoker,
      start() {
        enroll.start();
        renew.start();
        revoker.start();
      },
      async stop() {
        await Promise.all([enroll.stop(), renew.stop(), revoker.stop()]);
      },
      async close() {
        for (const close of closers.reverse()) await close().catch(() => {});
      },
    };
  } catch (err) {
    for (const close of closers.reverse()) await close().catch(() => {});
    throw err;
  }
}

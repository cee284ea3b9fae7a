// The NATS layout a fleet with sites runs: three hub servers in one cluster (JetStream on file
// storage, so the KV and object store can be replicated three ways) and a leaf node per site
// that the site's agents connect to, with a mirror of the assignments bucket in its own
// JetStream domain. Every server is in operator mode with JWT authentication
// and TLS, as startNats() is; routes use mutual TLS, and a leaf's uplink binds two users over
// TLS, as `edgeplane creds leaf` issues them: one in the fleet account for the site's traffic
// and one in the system account scoped to account updates, so that a node credential revoked
// at the hub is refused at the site too.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createInbox, type ConnectionOptions } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { createTrustMaterial, issueLeafCreds, serverTrustConfig, type TrustMaterial } from '@edgeplane/trust';
import { createCa, issueServerCert } from '@edgeplane/trust/certs';
import { goBinary } from './binaries.ts';
import type { NatsServer } from './nats.ts';
import { trustedConnectOptions, writeCredsFile, type NatsIdentity, type NatsTrustFiles } from './nats-trust.ts';
import { freePort, waitForPort } from './ports.ts';
import { startProcess, type ServerProcess } from './process.ts';
import type { ToxiProxy, ToxiproxyServer } from './toxiproxy.ts';

/** One nats-server of the layout, which a test may kill and start again (same ports, same store). */
export interface NatsMember {
  name: string;
  /** Client port. */
  port: number;
  url: string;
  /** JetStream store (hub servers only); kept across restarts. */
  storeDir: string | null;
  process(): ServerProcess;
  alive(): boolean;
  /** Starts it again after a kill or stop; resolves once it accepts clients. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface NatsClusterOptions {
  /** A leaf node for this site name (none by default). */
  site?: string;
  /**
   * Route the leaf's uplink to each hub server through a Toxiproxy proxy, so a test can cut
   * or slow the site's link (`uplinks`).
   */
  toxiproxy?: ToxiproxyServer;
  /** Trust material to reuse; fresh otherwise. */
  trust?: TrustMaterial;
  keep?: boolean;
}

export interface NatsCluster {
  /** The hub as a NatsServer: its URL lists all three servers; restart() restarts the whole cluster. */
  hub: NatsServer;
  /** The site's leaf as a NatsServer, for the agents and clients at the site; null without a site. */
  leaf: NatsServer | null;
  servers: NatsMember[];
  leafServer: NatsMember | null;
  /** The proxies between the leaf and each hub server (with `toxiproxy`); empty otherwise. */
  uplinks: ToxiProxy[];
  trust: TrustMaterial;
  caFile: string;
  /** Resolves once JetStream has a meta leader and every hub server is a current peer. */
  waitForJetStream(timeoutMs?: number): Promise<void>;
  /**
   * Mirrors a hub KV bucket (which must exist) into the site's JetStream under the same name,
   * as an operator sets a site up; agents there read it with plain JetStream calls.
   */
  mirrorAtSite(bucket: string): Promise<void>;
  /** Resolves once both of the leaf's links are connected (the hub sees two leaf connections). */
  waitForLeaf(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
/** The hub's JetStream domain. */
export const JS_DOMAIN = 'hub';
const q = (s: string) => JSON.stringify(s);
/** A leaf's connections to the hub: the fleet account's and the system account's. */
const LEAF_LINKS = 2;

function member(name: string, dir: string, port: number, storeDir: string | null, confFile: string): NatsMember {
  let proc: ServerProcess | undefined;
  const self: NatsMember = {
    name,
    port,
    url: `tls://${HOST}:${port}`,
    storeDir,
    process: () => proc!,
    alive: () => proc?.alive() ?? false,
    async start() {
      if (proc?.alive()) return;
      proc = startProcess(name, goBinary('nats-server'), ['-c', confFile], dir);
      const p = proc;
      try {
        await waitForPort(port, 15_000, () => p.alive());
      } catch (err) {
        await p.stop();
        throw new Error(`${name} did not start: ${(err as Error).message}\n${p.tail()}`);
      }
    },
    async stop() {
      await proc?.stop();
    },
  };
  return self;
}

/** Three clustered hub servers (JetStream R3 capable) and, with `site`, a leaf node for it. */
export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsCluster> {
  const root = mkdtempSync(join(tmpdir(), 'ep-nats-cluster-'));
  const trust = options.trust ?? createTrustMaterial(await createCa('edgeplane local CA'));
  // One certificate for every server: each is both TLS server and client on routes.
  const cert = await issueServerCert(trust.ca, { commonName: 'nats', dnsNames: ['localhost'], ips: [HOST, '::1'], clientAuth: true });
  const caFile = join(root, 'ca.pem');
  const certFile = join(root, 'server.pem');
  const keyFile = join(root, 'server-key.pem');
  writeFileSync(caFile, trust.ca.certPem);
  writeFileSync(certFile, cert.certPem);
  writeFileSync(keyFile, cert.keyPem, { mode: 0o600 });
  const tls = `{ cert_file: ${q(certFile)}, key_file: ${q(keyFile)}, ca_file: ${q(caFile)}, timeout: 5 }`;
  const files: NatsTrustFiles = { trust, caFile, caPem: trust.ca.certPem, config: '' };

  const ports = await Promise.all([0, 1, 2].map(async () => ({ client: await freePort(), route: await freePort(), leaf: await freePort() })));
  const routes = ports.map((p) => q(`nats-route://${HOST}:${p.route}`)).join(', ');
  // The site's uplink to each hub server, through Toxiproxy when asked.
  const uplinks: ToxiProxy[] = [];
  if (options.site && options.toxiproxy) {
    for (const [i, p] of ports.entries()) uplinks.push(await options.toxiproxy.proxy(`uplink-${options.site}-${i}`, p.leaf));
  }
  const servers: NatsMember[] = [];
  for (const [i, p] of ports.entries()) {
    const dir = join(root, `hub-${i}`);
    const storeDir = join(dir, 'jetstream');
    mkdirSync(join(dir, 'accounts'), { recursive: true });
    mkdirSync(storeDir);
    const conf = [
      `server_name: "ep-hub-${i}"`,
      `listen: "${HOST}:${p.client}"`,
      'max_payload: 8MB',
      // A domain, so clients behind a leaf can address this JetStream ($JS.<domain>.API): plain
      // $JS.API traffic never crosses a leaf link of a non-system account.
      `jetstream { store_dir: ${q(storeDir)}, max_memory_store: 256MB, max_file_store: 4GB, domain: ${q(JS_DOMAIN)} }`,
      `cluster { name: "ep-hub", listen: "${HOST}:${p.route}", routes: [${routes}], tls: ${tls} }`,
      // A hub tells each leaf its own leafnode address, and the leaf redials that one: behind a
      // proxy (as behind a load balancer or NAT) it must advertise the address leaves reach.
      `leafnodes { listen: "${HOST}:${p.leaf}", no_advertise: true,${uplinks[i] ? ` advertise: "${HOST}:${uplinks[i].port}",` : ''} tls: { cert_file: ${q(certFile)}, key_file: ${q(keyFile)}, timeout: 5 } }`,
      await serverTrustConfig(trust, { resolverDir: join(dir, 'accounts'), tls: { certFile, keyFile } }),
    ].join('\n');
    const confFile = join(dir, 'nats.conf');
    writeFileSync(confFile, `${conf}\n`);
    servers.push(member(`nats-hub-${i}`, dir, p.client, storeDir, confFile));
  }
  const stopAll = async () => {
    await Promise.all([leafServer, ...servers].map((s) => s?.stop()));
  };

  let leafServer: NatsMember | null = null;
  try {
    await Promise.all(servers.map((s) => s.start()));

    if (options.site) {
      const site = options.site;
      const dir = join(root, `leaf-${site}`);
      mkdirSync(join(dir, 'accounts'), { recursive: true });
      const port = await freePort();
      const remotePorts = ports.map((p, i) => uplinks[i]?.port ?? p.leaf);
      const leafCreds = await issueLeafCreds(trust, site);
      const credsFile = (name: string, text: string) => {
        const file = join(dir, name);
        writeFileSync(file, text, { mode: 0o600 });
        return file;
      };
      const remote = (creds: string, account: string) =>
        `{ urls: [${remotePorts.map((rp) => q(`tls://${HOST}:${rp}`)).join(', ')}], credentials: ${q(creds)}, account: ${q(account)}, tls: { ca_file: ${q(caFile)}, timeout: 5 } }`;
      const conf = [
        `server_name: "ep-leaf-${site}"`,
        `listen: "${HOST}:${port}"`,
        // A dark uplink is found by missed pings: within seconds rather than the default minutes,
        // so the leaf redials and is back soon after the link returns.
        'ping_interval: "2s"',
        'ping_max: 2',
        'max_payload: 8MB',
        // JetStream of its own, in the site's domain: mirrors of the hub's buckets (mirrorAtSite)
        // keep the site's agents reading their assignments while the uplink is down. Plain
        // $JS.API requests never cross a leaf link, so without a mirror they would find nothing.
        `jetstream { store_dir: ${q(join(dir, 'jetstream'))}, max_memory_store: 64MB, max_file_store: 1GB, domain: ${q(site)} }`,
        'leafnodes {',
        '  reconnect: 1',
        // The system link carries account updates to the leaf's resolver (a revocation pushed at
        // the hub, and the resolver's periodic sync after a cut); nothing else crosses it.
        '  remotes: [',
        `    ${remote(credsFile('leaf.creds', leafCreds.fleet), leafCreds.fleetAccount)},`,
        `    ${remote(credsFile('leaf-system.creds', leafCreds.system), leafCreds.systemAccount)}`,
        '  ]',
        '}',
        await serverTrustConfig(trust, { resolverDir: join(dir, 'accounts'), tls: { certFile, keyFile } }),
      ].join('\n');
      const confFile = join(dir, 'nats.conf');
      writeFileSync(confFile, `${conf}\n`);
      leafServer = member(`nats-leaf-${site}`, dir, port, null, confFile);
      await leafServer.start();
    }
  } catch (err) {
    await stopAll();
    rmSync(root, { recursive: true, force: true });
    throw err;
  }

  const hubUrl = servers.map((s) => s.url).join(',');
  const view = (url: string, port: number, dir: string, storeDir: string, pause: () => Promise<void>, restart: () => Promise<void>): NatsServer => ({
    url,
    port,
    trust,
    caFile,
    async connectOptions(who: NatsIdentity = 'admin'): Promise<ConnectionOptions> {
      const o = await trustedConnectOptions(files, url, who);
      return { ...o, servers: url.split(',') };
    },
    credsFile: (who: NatsIdentity) => writeCredsFile(dir, trust, who),
    storeDir,
    dir,
    stop: async () => {
      await stopAll();
      if (!options.keep) rmSync(root, { recursive: true, force: true });
    },
    pause,
    restart,
  });

  const until = async (what: string, timeoutMs: number, probe: () => Promise<boolean>) => {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      try {
        if (await probe()) return;
      } catch (err) {
        last = (err as Error).message;
      }
      if (Date.now() > deadline) throw new Error(`nats cluster: ${what} within ${timeoutMs} ms${last ? ` (${last})` : ''}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const systemConnection = async () => connect({ ...(await trustedConnectOptions(files, hubUrl, 'system')), servers: hubUrl.split(','), maxReconnectAttempts: 0 });

  const cluster: NatsCluster = {
    hub: view(
      hubUrl,
      servers[0]!.port,
      root,
      root,
      async () => {
        await Promise.all(servers.map((s) => s.stop()));
      },
      async () => {
        await Promise.all(servers.map((s) => s.stop()));
        await Promise.all(servers.map((s) => s.start()));
      },
    ),
    leaf: leafServer
      ? view(leafServer.url, leafServer.port, join(root, `leaf-${options.site}`), root, () => leafServer!.stop(), async () => {
          await leafServer!.stop();
          await leafServer!.start();
        })
      : null,
    servers,
    leafServer,
    uplinks,
    trust,
    caFile,
    async waitForJetStream(timeoutMs = 30_000) {
      await until('no JetStream meta leader with three current peers', timeoutMs, async () => {
        const sys = await systemConnection();
        try {
          const reply = await sys.request('$SYS.REQ.SERVER.PING.JSZ', '', { timeout: 2000 });
          const jsz = JSON.parse(reply.string()) as { server?: { name?: string }; data?: { meta_cluster?: { leader?: string; replicas?: { name?: string; current?: boolean }[] } } };
          const meta = jsz.data?.meta_cluster;
          // Replicas list the other peers: both current means all three are in step.
          if (Boolean(meta?.leader) && (meta?.replicas ?? []).filter((r) => r.current).length >= 2) return true;
          // What was seen, for the timeout's message.
          const peers = (meta?.replicas ?? []).map((r) => `${r.name ?? '?'}${r.current ? '' : ' (behind)'}`).join(', ');
          const down = servers.filter((m) => !m.alive());
          const why = down.map((m) => `${m.name} exited:\n${m.process().tail(5)}`).join('\n');
          throw new Error(`${jsz.server?.name ?? 'a server'} sees leader ${meta?.leader ?? 'none'}, peers ${peers || 'none'}${why ? `; ${why}` : ''}`);
        } finally {
          await sys.close();
        }
      });
    },
    async mirrorAtSite(bucket) {
      if (!leafServer) throw new Error('nats cluster: no leaf node (start with a site)');
      const nc = await connect({ ...(await trustedConnectOptions(files, leafServer.url, 'admin')), maxReconnectAttempts: 0 });
      try {
        await new Kvm(nc).create(bucket, {
          mirror: { name: bucket, domain: JS_DOMAIN },
          history: 1,
          allow_direct: true,
          // $KV.> never crosses a leaf link either: the mirror announces each entry it receives
          // on the key's subject, so an agent watching its key hears of changes as on the hub.
          republish: { src: `$KV.${bucket}.>`, dest: `$KV.${bucket}.>` },
        });
      } finally {
        await nc.close();
      }
    },
    async waitForLeaf(timeoutMs = 15_000) {
      if (!leafServer) throw new Error('nats cluster: no leaf node (start with a site)');
      await until('the leaf did not connect to the hub', timeoutMs, async () => {
        const sys = await systemConnection();
        try {
          // Every hub server answers the ping with its own leaf connections; the two links may
          // land on different servers, so the counts are added up.
          const inbox = sys.subscribe(createInbox());
          sys.publish('$SYS.REQ.SERVER.PING.LEAFZ', '', { reply: inbox.getSubject() });
          const timer = setTimeout(() => inbox.unsubscribe(), 1000);
          let leafs = 0;
          for await (const m of inbox) {
            leafs += (JSON.parse(m.string()) as { data?: { leafnodes?: number } }).data?.leafnodes ?? 0;
            if (leafs >= LEAF_LINKS) break;
          }
          clearTimeout(timer);
          return leafs >= LEAF_LINKS;
        } finally {
          await sys.close();
        }
      });
    },
    async stop() {
      await stopAll();
      if (!options.keep) rmSync(root, { recursive: true, force: true });
    },
  };
  return cluster;
}

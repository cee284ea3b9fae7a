// Real agent processes for `make up` and the end-to-end test: each on a hardware fixture root,
// with an override file the caller rewrites to drain a battery or switch a link.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { LinkType } from '@edgeplane/api';
import { freePort, repoRoot } from '@edgeplane/env';
import { startProcess } from '@edgeplane/env';
import { requireSignatureArgs } from './signing.ts';

export interface AgentSpec {
  node: string;
  /** Directory name under agent/fixtures/. */
  fixture: string;
  labels: Record<string, string>;
  power?: { source: 'mains' | 'battery' | 'solar'; batteryPercent?: number; charging?: boolean };
  network?: { type: LinkType; bandwidthMbps?: number; metered?: boolean };
}

/**
 * Where an agent finds NATS and how it enrols: a join token (in a file, since argv is visible)
 * and the CA pin it checks the server against. Its own credentials come from the leader.
 */
export interface AgentNats {
  url: string;
  bootstrapTokenFile: string;
  caHash: string;
}

export interface AgentProcess {
  spec: AgentSpec;
  /** `http://127.0.0.1:<port>`: the KServe v2 endpoint. */
  http: string;
  logFile: string;
  /** Rewrites the override file; the agent picks it up on its next heartbeat. */
  setPower(power: NonNullable<AgentSpec['power']>): void;
  setNetwork(network: NonNullable<AgentSpec['network']>): void;
  stop(): Promise<void>;
}

export async function startAgentProcess(spec: AgentSpec, nats: AgentNats, workDir: string): Promise<AgentProcess> {
  const dir = join(workDir, spec.node);
  mkdirSync(dir, { recursive: true });
  const overrideFile = join(dir, 'override.yaml');
  const state = { power: spec.power, network: spec.network };
  const writeOverride = () =>
    writeFileSync(overrideFile, stringify({ labels: spec.labels, ...(state.power ? { power: state.power } : {}), ...(state.network ? { network: state.network } : {}) }));
  writeOverride();
  const port = await freePort();
  // The agent's own command, run by this Node (24) through tsx's loader.
  const proc = startProcess(
    'agent',
    process.execPath,
    [
      '--import',
      'tsx',
      join(repoRoot, 'agent', 'src', 'cli.ts'),
      '--node',
      spec.node,
      '--root',
      join(repoRoot, 'agent', 'fixtures', spec.fixture),
      '--override-file',
      overrideFile,
      '--nats-url',
      nats.url,
      '--bootstrap-token-file',
      nats.bootstrapTokenFile,
      '--ca-hash',
      nats.caHash,
      '--state-dir',
      join(dir, 'state'),
      '--cache-dir',
      join(dir, 'cache'),
      '--cache-max',
      '1GiB',
      '--http-addr',
      `127.0.0.1:${port}`,
      // gRPC on a port of its own: its default (HTTP's port + 1) may be the next agent's HTTP port.
      '--grpc-addr',
      `127.0.0.1:${await freePort()}`,
      // Only variants signed by the demo's key load.
      ...(await requireSignatureArgs()),
    ],
    repoRoot,
    undefined,
    dir,
  );
  return {
    spec,
    http: `http://127.0.0.1:${port}`,
    logFile: proc.logFile,
    setPower(power) {
      state.power = power;
      writeOverride();
    },
    setNetwork(network) {
      state.network = network;
      writeOverride();
    },
    stop: () => proc.stop(10_000),
  };
}

/** The three gateways of the demo: a GPU box on mains, a VNNI server, a battery Pi on LTE. */
export const demoAgents: AgentSpec[] = [
  { node: 'jetson-line-1', fixture: 'jetson-agx-xavier', labels: { 'edgeplane.io/role': 'ocr-gateway', 'topology.edgeplane.io/site': 'dock-1' } },
  { node: 'xeon-dc-1', fixture: 'x86-vnni-server', labels: { 'edgeplane.io/role': 'ocr-gateway', 'topology.edgeplane.io/site': 'dc' } },
  {
    node: 'pi-handheld-1',
    fixture: 'rpi4-battery',
    labels: { 'edgeplane.io/role': 'ocr-gateway', 'topology.edgeplane.io/site': 'yard' },
    power: { source: 'battery', batteryPercent: 76, charging: false },
    network: { type: 'cellular-4g', bandwidthMbps: 20, metered: true },
  },
];

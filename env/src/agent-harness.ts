// An agent run on its own, as the agent tests and the agent benchmarks do it: a stand-in for the
// control plane's hello and probe responders (the real control plane needs Kubernetes), the
// agent's hardware fixtures, bounded polling and scratch directories.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { Hello, HelloReply, decode, encode, subjects } from '@edgeplane/api';
import { agentNatsEnv, type NatsSettings } from './nats-settings.ts';

/** A hardware fixture root under agent/fixtures (sysfs and procfs as a given machine shows them). */
export const fixtureRoot = (name: string) => fileURLToPath(new URL(`../../agent/fixtures/${name}`, import.meta.url));

export interface AgentProcessOptions {
  node: string;
  nats: NatsSettings;
  /** A fixture name under agent/fixtures, or an absolute root. */
  fixture: string;
  /** The agent's scratch directory: state/ and cache/ are made under it. */
  dir: string;
  httpAddr: string;
  /** Defaults to an ephemeral port, so a test that does not call gRPC never collides on HTTP port + 1. */
  grpcAddr?: string;
  logLevel?: string;
  /** Added last, so they override any of the above. */
  extra?: Record<string, string | undefined>;
}

/**
 * The environment of an agent process run on its own, as the packaged service passes its
 * settings: node credential and CA, hardware root, state and cache directories, listen addresses.
 */
export function agentProcessEnv(o: AgentProcessOptions): Record<string, string> {
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    EP_AGENT_NODE: o.node,
    ...agentNatsEnv(o.nats),
    EP_AGENT_ROOT: o.fixture.startsWith('/') ? o.fixture : fixtureRoot(o.fixture),
    EP_AGENT_STATE_DIR: join(o.dir, 'state'),
    EP_AGENT_CACHE_DIR: join(o.dir, 'cache'),
    EP_AGENT_HTTP_ADDR: o.httpAddr,
    EP_AGENT_GRPC_ADDR: o.grpcAddr ?? '127.0.0.1:0',
    EP_AGENT_LOG_LEVEL: o.logLevel ?? 'warn',
    ...o.extra,
  };
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

export interface Responder {
  hellos: Hello[];
  probes: number[];
  stop(): void;
}

/**
 * Answers hello as the control plane would, refusing the first `refuse` ones, and the
 * bandwidth probe with the byte count it received.
 */
export function controlPlaneResponder(nc: NatsConnection, reply: Partial<HelloReply> = {}, refuse = 0): Responder {
  const hellos: Hello[] = [];
  const probes: number[] = [];
  const subs: Subscription[] = [
    nc.subscribe(subjects.allHello, {
      callback: (_err, msg) => {
        const decoded = decode(Hello, 'hello', msg.data);
        if (!decoded.ok) return;
        hellos.push(decoded.value);
        const accepted = hellos.length > refuse;
        msg.respond(encode(HelloReply, 'hello reply', { v: 1, accepted, heartbeatIntervalMs: 200, fullEvery: 12, ...reply, ...(accepted ? {} : { accepted, reason: 'control plane not leading yet' }) }));
      },
    }),
    nc.subscribe(subjects.allProbe, {
      callback: (_err, msg) => {
        probes.push(msg.data.length);
        msg.respond(JSON.stringify({ bytes: msg.data.length }));
      },
    }),
  ];
  return { hellos, probes, stop: () => subs.forEach((s) => s.unsubscribe()) };
}

/** Polls `fn` until it returns a truthy value; bounded wait, no speed asserted. */
export async function until<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function tempDir(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

// An agent run on its own, as the agent tests and the agent benchmarks do it: a stand-in for the
// control plane's hello and probe responders (the real control plane needs Kubernetes), the
// agent's hardware fixtures, bounded polling and scratch directories.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { Hello, HelloReply, decode, encode, subjects } from '@edgeplane/api';

/** A hardware fixture root under agent/fixtures (sysfs and procfs as a given machine shows them). */
export const fixtureRoot = (name: string) => fileURLToPath(new URL(`../../agent/fixtures/${name}`, import.meta.url));

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

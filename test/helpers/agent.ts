// A protocol-speaking test agent: says hello (retrying until a leader accepts), sends
// delta heartbeats, watches its KV assignment and reports each assigned workload through
// Downloading to Ready. Its hardware, power and link are whatever the test says.
import { randomBytes } from 'node:crypto';
import {
  Assignment,
  createHeartbeatBuilder,
  decode,
  encode,
  Heartbeat,
  Hello,
  HelloReply,
  NodeCommand,
  PROTOCOL_VERSION,
  stores,
  subjects,
  type Accelerator,
  type HostInfo,
  type Network,
  type Power,
  type WorkloadReport,
} from '@edgeplane/api';
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsServer } from '@edgeplane/env';

export interface TestAgentOptions {
  /** Connects with a node credential for `node`, as an enrolled agent does. */
  nats: Pick<NatsServer, 'connectOptions'>;
  node: string;
  accelerators: Accelerator[];
  power: Power;
  network: Network;
  labels?: Record<string, string>;
  host?: HostInfo;
  cachedArtifacts?: string[];
  /** How long a newly assigned workload stays Downloading before Ready, ms. */
  loadMs?: number;
  /** Give up on hello after this long, ms. */
  helloTimeoutMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Re-reads of the assignment after a notification that read nothing new (a lagging replica), ms. */
const LAG_RETRY_MS = [100, 200, 400, 800] as const;

export class TestAgent {
  readonly node: string;
  readonly #o: TestAgentOptions;
  readonly #nc: NatsConnection;
  #kv: KV | undefined;
  #power: Power;
  #network: Network;
  // The agent's own delta rules, so the control plane is tested against what agents send.
  readonly #builder = createHeartbeatBuilder(12);
  #intervalMs = 1000;
  #timer: NodeJS.Timeout | undefined;
  #silent = false;
  #stopped = false;
  #watching: Promise<void> | undefined;
  #changes: Subscription | undefined;
  #commands: Subscription | undefined;
  /** Full heartbeats the control plane asked for. */
  fullHeartbeatRequests = 0;
  /** Every assignment received, oldest first. */
  readonly assignments: Assignment[] = [];
  /** What nats-server refused this node's credential (`publish ep.v1...`); stop() fails on any. */
  readonly violations: string[] = [];
  /** Workload key -> variant, with when it was assigned. */
  readonly #assignedAt = new Map<string, { variant: string; accelerator: string; at: number }>();

  private constructor(o: TestAgentOptions, nc: NatsConnection) {
    this.#o = o;
    this.node = o.node;
    this.#nc = nc;
    this.#power = o.power;
    this.#network = o.network;
  }

  static async start(o: TestAgentOptions): Promise<TestAgent> {
    const nc = await connect({ ...(await o.nats.connectOptions({ node: o.node })), name: `test-agent-${o.node}` });
    const agent = new TestAgent(o, nc);
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'error' && s.error.name === 'PermissionViolationError') {
          const e = s.error as Error & { operation?: string; subject?: string };
          agent.violations.push(`${e.operation ?? '?'} ${e.subject ?? '?'}`);
        }
      }
    })();
    try {
      await agent.#hello();
    } catch (err) {
      await nc.close();
      throw err;
    }
    // As the agent does: a command from the control plane makes the next heartbeat full.
    agent.#commands = nc.subscribe(subjects.command(o.node), {
      callback: (err, msg) => {
        if (err) return;
        const cmd = decode(NodeCommand, 'node command', msg.data);
        if (cmd.ok && cmd.value.op === 'full-heartbeat') {
          agent.fullHeartbeatRequests++;
          agent.#builder.reset();
        }
      },
    });
    agent.#timer = setInterval(() => agent.#beat(), agent.#intervalMs);
    agent.#watching = agent.#watch();
    return agent;
  }

  get latest(): Assignment | undefined {
    return this.assignments.at(-1);
  }

  /** Variant assigned for a workload key in the latest assignment. */
  variantOf(key: string): string | undefined {
    return this.latest?.workloads.find((w) => w.key === key)?.variant.name;
  }

  setPower(power: Power): void {
    this.#power = power;
  }

  setNetwork(network: Network): void {
    this.#network = network;
  }

  /** Stops heartbeating, as a node that lost power would. */
  silence(): void {
    this.#silent = true;
  }

  resume(): void {
    this.#silent = false;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#changes?.unsubscribe();
    this.#commands?.unsubscribe();
    await this.#nc.close();
    await this.#watching?.catch(() => {});
    if (this.violations.length) throw new Error(`${this.node}'s credential was refused: ${this.violations.join('; ')}`);
  }

  async #hello(): Promise<void> {
    const o = this.#o;
    const hello = encode(Hello, 'hello', {
      v: PROTOCOL_VERSION,
      node: o.node,
      agentVersion: '0.0.0-test',
      bootId: randomBytes(8).toString('hex'),
      host: o.host ?? { arch: 'x64', cores: 4, memoryMiB: 8192 },
      accelerators: o.accelerators,
      power: this.#power,
      network: this.#network,
      cachedArtifacts: o.cachedArtifacts ?? [],
      labels: o.labels ?? {},
    });
    const deadline = Date.now() + (o.helloTimeoutMs ?? 30_000);
    let lastProblem = 'no reply';
    while (Date.now() < deadline && !this.#stopped) {
      try {
        const msg = await this.#nc.request(subjects.hello(o.node), hello, { timeout: 2000 });
        const reply = decode(HelloReply, 'hello reply', msg.data);
        if (reply.ok && reply.value.accepted) {
          this.#intervalMs = reply.value.heartbeatIntervalMs;
          this.#builder.reset(reply.value.fullEvery);
          return;
        }
        lastProblem = reply.ok ? (reply.value.reason ?? 'refused') : reply.error.message;
      } catch (err) {
        // No responder yet (no leader): retry, as a real agent does.
        lastProblem = (err as Error).message;
      }
      await sleep(200);
    }
    throw new Error(`hello of ${o.node} not accepted: ${lastProblem}`);
  }

  #reports(): WorkloadReport[] {
    const now = Date.now();
    const loadMs = this.#o.loadMs ?? 0;
    return [...this.#assignedAt.entries()]
      .map(([key, a]) => ({ key, variant: a.variant, accelerator: a.accelerator, phase: now - a.at >= loadMs ? ('Ready' as const) : ('Downloading' as const), p99Ms: 5 }))
      .sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  #beat(): void {
    if (this.#silent || this.#stopped || this.#nc.isClosed()) return;
    const hb = this.#builder.next({ power: this.#power, network: this.#network, load: [], workloads: this.#reports(), cachedArtifacts: [] });
    this.#nc.publish(subjects.status(this.node), encode(Heartbeat, 'heartbeat', hb));
  }

  /**
   * As the agent does, within what a node credential allows: the key's subject says that
   * something changed, a direct get reads the value (a node may not create a KV consumer).
   */
  async #watch(): Promise<void> {
    let revision = 0;
    let dirty = true;
    // Reads left after a change notification that found nothing new. With a replicated bucket
    // every replica answers direct gets, one that has not stored the write yet included: the
    // read is tried again after 100, 200, 400 and 800 ms, as the agent does
    // (agent/src/fleet/assignment-watch.ts), or the change would wait for the next one.
    let lagReads = 0;
    const changes = this.#nc.subscribe(`$KV.${stores.assignments}.${this.node}`, {
      callback: () => {
        dirty = true;
        lagReads = LAG_RETRY_MS.length;
      },
    });
    this.#changes = changes;
    while (!this.#stopped && !this.#nc.isClosed()) {
      if (!dirty) {
        await sleep(20);
        continue;
      }
      dirty = false;
      try {
        this.#kv ??= await new Kvm(this.#nc).open(stores.assignments, { allow_direct: true });
        const entry = await this.#kv.get(this.node);
        if (!entry || entry.revision === revision) {
          if (lagReads > 0 && !dirty) {
            await sleep(LAG_RETRY_MS[LAG_RETRY_MS.length - lagReads--]!);
            dirty = true;
          }
          continue;
        }
        lagReads = 0;
        revision = entry.revision;
        if (entry.operation !== 'PUT') continue;
        this.#apply(entry.value);
      } catch {
        // No bucket yet, or the server is away: read again shortly.
        dirty = true;
        await sleep(100);
      }
    }
  }

  #apply(value: Uint8Array): void {
    const decoded = decode(Assignment, 'assignment', value);
    if (!decoded.ok) return;
    this.assignments.push(decoded.value);
    const keep = new Set<string>();
    for (const w of decoded.value.workloads) {
      keep.add(w.key);
      const prev = this.#assignedAt.get(w.key);
      if (!prev || prev.variant !== w.variant.name || prev.accelerator !== w.accelerator) {
        this.#assignedAt.set(w.key, { variant: w.variant.name, accelerator: w.accelerator, at: Date.now() });
      }
    }
    for (const key of this.#assignedAt.keys()) if (!keep.has(key)) this.#assignedAt.delete(key);
  }
}

/** Polls until the check returns a value other than undefined/false, or fails with the last value. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await sleep(everyMs);
  }
}

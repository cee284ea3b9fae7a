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
  PROTOCOL_VERSION,
  stores,
  subjects,
  type Accelerator,
  type HostInfo,
  type Network,
  type Power,
  type WorkloadReport,
} from '@edgeplane/api';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';

export interface TestAgentOptions {
  natsUrl: string;
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
  /** Every assignment received, oldest first. */
  readonly assignments: Assignment[] = [];
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
    const nc = await connect({ servers: o.natsUrl, name: `test-agent-${o.node}` });
    const agent = new TestAgent(o, nc);
    try {
      await agent.#hello();
    } catch (err) {
      await nc.close();
      throw err;
    }
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
    await this.#nc.close();
    await this.#watching?.catch(() => {});
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

  async #watch(): Promise<void> {
    for (let i = 0; i < 50 && !this.#kv && !this.#stopped; i++) {
      try {
        this.#kv = await new Kvm(this.#nc).open(stores.assignments);
      } catch {
        await sleep(100);
      }
    }
    if (!this.#kv || this.#stopped) return;
    const watch = await this.#kv.watch({ key: this.node });
    for await (const entry of watch) {
      if (this.#stopped) break;
      if (entry.operation !== 'PUT') continue;
      const decoded = decode(Assignment, 'assignment', entry.value);
      if (!decoded.ok) continue;
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

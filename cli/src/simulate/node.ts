// One simulated agent: hello (retried with backoff until accepted), delta heartbeats at the
// interval the reply sets and early ones as the agent sends them (the shared early-heartbeat
// policy, power and link read on the agent's polling period), simulated executors for its
// assignment, and live power and link that the timeline or a caller changes. It shares its
// NATS connection with other nodes.
import { Hello, HelloReply, Heartbeat, PROTOCOL_VERSION, decode, encode, subjects, type Assignment, type Network, type Power } from '@edgeplane/api';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { createHeartbeatBuilder, createEarlyHeartbeatDriver, encodeHeartbeat, CONDITIONS_POLL_MS, type EarlyHeartbeatDriver, type EarlyReason } from '@edgeplane/api';
import { SimulatedExecutors } from './executors.ts';
import type { PhaseTimingOptions } from './phases.ts';
import type { HardwareProfile } from './profiles.ts';
import { between, type Random } from '../random.ts';
import { pubFrameBytes } from './wire.ts';

export const SIMULATOR_AGENT_VERSION = 'edgeplane-sim/0.1.0';

/** Counters shared by every node of a simulation. */
export interface SimulationCounters {
  helloRequests: number;
  hellosAccepted: number;
  helloFailures: number;
  heartbeats: number;
  /** Of those, sent early by the early-heartbeat policy. */
  earlyHeartbeats: number;
  /** JSON payload bytes of heartbeats. */
  heartbeatPayloadBytes: number;
  /** Heartbeat bytes as PUB frames on the connection, protocol overhead included. */
  heartbeatFrameBytes: number;
  heartbeatErrors: number;
}

export function newCounters(): SimulationCounters {
  return { helloRequests: 0, hellosAccepted: 0, helloFailures: 0, heartbeats: 0, earlyHeartbeats: 0, heartbeatPayloadBytes: 0, heartbeatFrameBytes: 0, heartbeatErrors: 0 };
}

export interface SimulatedNodeOptions {
  name: string;
  profile: HardwareProfile;
  labels: Record<string, string>;
  nc: NatsConnection;
  log: Logger;
  random: Random;
  timing: PhaseTimingOptions;
  counters: SimulationCounters;
  /** Send early heartbeats as the agent does (workload changes, battery and link crossings). */
  reportChanges: boolean;
  /** How often power and link are read for crossings, ms, as the agent's default. */
  conditionsPollMs?: number;
  /** Told of every heartbeat published: early ones with their reasons, regular ones with none. */
  onHeartbeat?(node: SimulatedNode, hb: Heartbeat, atMs: number, early: EarlyReason[] | null): void;
  helloTimeoutMs: number;
  /** Runs one hello request under the simulation's concurrency limit. */
  gate<T>(fn: () => Promise<T>): Promise<T>;
  onAccepted(node: SimulatedNode, reply: HelloReply): void;
}

const HELLO_BACKOFF = { initialMs: 250, maxMs: 30_000 };

export class SimulatedNode {
  readonly name: string;
  readonly profile: HardwareProfile;
  readonly #o: SimulatedNodeOptions;
  readonly #subject: string;
  readonly #executors: SimulatedExecutors;
  readonly #bootId: string;
  #power: Power;
  #network: Network;
  #silent = false;
  /** False while the node's own connection is down (a blip: it keeps its hello reply). */
  #connected = true;
  #stopped = false;
  #reply: HelloReply | null = null;
  #builder = createHeartbeatBuilder(12);
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  #pollOriginMs = 0;
  #early: EarlyHeartbeatDriver;
  #helloing = false;

  constructor(options: SimulatedNodeOptions) {
    this.#o = options;
    this.name = options.name;
    this.profile = options.profile;
    this.#subject = subjects.status(options.name);
    this.#power = { ...options.profile.power };
    this.#network = { ...options.profile.network };
    this.#bootId = Math.floor(options.random() * 2 ** 48).toString(36);
    const [low, high] = options.profile.efficiency;
    this.#executors = new SimulatedExecutors({
      accelerators: options.profile.accelerators,
      efficiency: between(options.random, low, high),
      timing: options.timing,
      network: () => this.#network,
      onChange: () => {
        if (this.#o.reportChanges) this.#early.workloadChanged();
      },
    });
    // An early heartbeat that cannot go out stays pending, as the agent's does.
    this.#early = createEarlyHeartbeatDriver({
      intervalMs: 5000,
      send: (reasons) => {
        if (this.#publish(reasons) === null) this.#early.notSent();
      },
    });
  }

  get accepted(): boolean {
    return this.#reply !== null;
  }
  get power(): Power {
    return this.#power;
  }
  get network(): Network {
    return this.#network;
  }
  get silent(): boolean {
    return this.#silent;
  }
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Says hello (with retries) and then heartbeats until stopped. */
  start(): void {
    void this.#hello(0);
  }

  async #hello(attempt: number): Promise<void> {
    if (this.#stopped || this.#silent || this.#helloing) return;
    this.#helloing = true;
    const { counters, log } = this.#o;
    let reason: string;
    try {
      const msg = await this.#o.gate(() => {
        counters.helloRequests += 1;
        return this.#o.nc.request(subjects.hello(this.name), encode(Hello, 'hello', this.#helloMessage()), { timeout: this.#o.helloTimeoutMs });
      });
      const decoded = decode(HelloReply, 'hello reply', msg.data);
      if (decoded.ok && decoded.value.accepted) {
        this.#helloing = false;
        if (this.#stopped || this.#silent) return;
        counters.hellosAccepted += 1;
        this.#accept(decoded.value);
        return;
      }
      reason = decoded.ok ? `refused: ${decoded.value.reason ?? 'no reason given'}` : decoded.error.message;
    } catch (err) {
      // No responder yet or a timeout: the control plane may still be starting.
      reason = (err as Error).message;
    }
    this.#helloing = false;
    counters.helloFailures += 1;
    const ceiling = Math.min(HELLO_BACKOFF.maxMs, HELLO_BACKOFF.initialMs * 2 ** Math.min(attempt, 20));
    const delay = Math.round(ceiling / 2 + this.#o.random() * (ceiling / 2));
    log[attempt < 3 ? 'debug' : 'warn']({ node: this.name, attempt: attempt + 1, reason, retryInMs: delay }, 'hello not accepted; retrying');
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => void this.#hello(attempt + 1), delay);
  }

  #helloMessage(): Hello {
    return {
      v: PROTOCOL_VERSION,
      node: this.name,
      agentVersion: SIMULATOR_AGENT_VERSION,
      bootId: this.#bootId,
      host: this.profile.host,
      accelerators: [...this.profile.accelerators],
      power: this.#power,
      network: this.#network,
      cachedArtifacts: this.#executors.cachedArtifacts(),
      labels: this.#o.labels,
    };
  }

  #accept(reply: HelloReply): void {
    this.#reply = reply;
    this.#builder.reset(reply.fullEvery);
    clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = setInterval(() => this.heartbeat(), reply.heartbeatIntervalMs);
    this.#early.setIntervalMs(reply.heartbeatIntervalMs);
    // The agent starts reading power and link on its period once hello is accepted.
    this.#pollOriginMs = performance.now();
    clearTimeout(this.#pollTimer);
    this.#pollTimer = undefined;
    this.heartbeat();
    this.#o.onAccepted(this, reply);
  }

  /**
   * Publishes a heartbeat now, if the node is up. Returns when it went out (ms since the
   * epoch), or null when it did not.
   */
  heartbeat(): number | null {
    return this.#publish(null);
  }

  #publish(early: EarlyReason[] | null): number | null {
    if (!this.#reply || this.#silent || !this.#connected || this.#stopped || this.#o.nc.isClosed()) return null;
    const { counters } = this.#o;
    try {
      const hb = this.#builder.next({
        power: this.#power,
        network: this.#network,
        load: this.#executors.load(),
        workloads: this.#executors.reports(),
        cachedArtifacts: this.#executors.cachedArtifacts(),
      });
      const data = encodeHeartbeat(hb);
      this.#o.nc.publish(this.#subject, data);
      this.#early.sent({ power: this.#power, network: this.#network }, this.#early.policy.workloadChanges, early !== null);
      counters.heartbeats += 1;
      if (early) counters.earlyHeartbeats += 1;
      counters.heartbeatPayloadBytes += data.length;
      counters.heartbeatFrameBytes += pubFrameBytes(this.#subject, data.length);
      const at = Date.now();
      this.#o.onHeartbeat?.(this, hb, at, early);
      return at;
    } catch (err) {
      counters.heartbeatErrors += 1;
      this.#o.log.warn({ node: this.name, err: (err as Error).message }, 'heartbeat not sent');
      return null;
    }
  }

  /**
   * Power or link changed: the agent would read it on its next poll (every `conditionsPollMs`
   * from hello), so the policy sees it then. One timer, not one per node per period.
   */
  #observeOnNextPoll(): void {
    if (!this.#o.reportChanges || !this.#reply || this.#pollTimer) return;
    const every = this.#o.conditionsPollMs ?? CONDITIONS_POLL_MS;
    if (every <= 0) return;
    const sinceOrigin = performance.now() - this.#pollOriginMs;
    const wait = every - (sinceOrigin % every);
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = undefined;
      if (this.#reply && !this.#silent && !this.#stopped) this.#early.observe({ power: this.#power, network: this.#network });
    }, wait);
  }

  /** The control plane lost this node's telemetry: the next heartbeat carries everything, as an agent's does. */
  requestFullHeartbeat(): void {
    this.#builder.reset();
  }

  applyAssignment(assignment: Assignment): void {
    if (this.#stopped) return;
    this.#executors.apply(assignment);
  }

  setPower(power: Power): void {
    this.#power = { ...power };
    this.#observeOnNextPoll();
  }

  setNetwork(network: Network): void {
    this.#network = { ...network };
    this.#observeOnNextPoll();
  }

  /** A silent node sends nothing; coming back it says hello again, as after a reconnect. */
  setSilent(silent: boolean): void {
    if (silent === this.#silent || this.#stopped) return;
    this.#silent = silent;
    if (silent) {
      clearInterval(this.#heartbeatTimer);
      clearTimeout(this.#pollTimer);
      this.#pollTimer = undefined;
      this.#reply = null;
    } else {
      void this.#hello(0);
    }
  }

  /**
   * The node's connection drops and comes back, as an agent's does when a renewed credential
   * makes it reconnect: nothing goes out meanwhile; back, it sends what is pending at once and
   * says hello again (then a full heartbeat), as the agent's session does on a reconnect.
   */
  setConnected(connected: boolean): void {
    if (connected === this.#connected || this.#stopped) return;
    this.#connected = connected;
    if (!connected) return;
    this.#early.resume();
    void this.#hello(0);
  }

  stop(): void {
    this.#stopped = true;
    this.#reply = null;
    clearInterval(this.#heartbeatTimer);
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#pollTimer);
    this.#early.stop();
    this.#executors.stop();
  }

  phaseOf(key: string): string | null {
    return this.#executors.phaseOf(key);
  }
}

// Early heartbeats: when something the control plane acts on changes (a workload's phase or
// failure, the battery crossing a tiering threshold, the link changing class), a node sends a
// heartbeat now instead of at its next tick. A burst of changes costs one message, and a
// token bucket bounds the extra traffic of a flapping workload or battery. The agent and the
// fleet simulator both decide through this module, so a simulated fleet paces its reports as
// real agents do. The policy is pure (time is passed in); the driver adds timers.
import { BatteryTiering } from './edgemodeldeployment.ts';
import type { Network, Power } from './hardware.ts';

export type EarlyReason = 'workload' | 'battery' | 'link';

/** Battery thresholds of one tiering, as in a deployment's `spec.tiering.battery`. */
export interface BatteryThresholdSet {
  fp16BelowPercent: number;
  int8BelowPercent: number;
  hysteresisPercent: number;
}

export interface EarlyHeartbeatSettings {
  /** Tiering thresholds whose crossings matter; default the deployment defaults. */
  battery: readonly BatteryThresholdSet[];
  /** An early heartbeat waits this long after the first change, to carry the whole burst, ms. */
  coalesceMs: number;
  /** Early heartbeats that may go out back to back. */
  burst: number;
  /** One more early heartbeat is allowed per this long, ms. */
  refillMs: number;
}

/** Power and link as a heartbeat carries them. */
export interface Conditions {
  power: Power;
  network: Network;
}

/** How often an agent re-reads power and link between heartbeats to notice a crossing, ms. */
export const CONDITIONS_POLL_MS = 1000;
export const DEFAULT_BATTERY_THRESHOLDS: BatteryThresholdSet = BatteryTiering.parse({});

/**
 * Settings for a heartbeat interval: a deployment (download, load, Ready) is reported at once,
 * and at most one extra heartbeat per quarter interval (never more than 4 a second) after that.
 */
export function earlyHeartbeatSettings(intervalMs: number, battery: readonly BatteryThresholdSet[] = [DEFAULT_BATTERY_THRESHOLDS]): EarlyHeartbeatSettings {
  return { battery, coalesceMs: 20, burst: 3, refillMs: Math.max(250, intervalMs / 4) };
}

/** True when the node runs on a battery that is neither charging nor backed by mains (as the control plane reads it). */
function onBattery(power: Power): power is Power & { batteryPercent: number } {
  return power.source !== 'mains' && power.charging !== true && power.batteryPercent !== undefined;
}

/**
 * The band a battery level falls in between every level at which the control plane's cap can
 * change: each threshold, and each threshold plus its hysteresis (where a cap is lifted).
 * 'mains' when no cap applies. Two levels in the same class get the same placement.
 */
export function batteryClass(power: Power, thresholds: readonly BatteryThresholdSet[]): string {
  if (!onBattery(power)) return 'mains';
  // Levels on the wire are whole percent; classify what the control plane will read.
  const level = Math.round(power.batteryPercent);
  let band = 0;
  for (const t of thresholds) {
    for (const edge of [t.int8BelowPercent, t.int8BelowPercent + t.hysteresisPercent, t.fp16BelowPercent, t.fp16BelowPercent + t.hysteresisPercent]) {
      if (level >= edge) band += 1;
    }
  }
  return `battery:${band}`;
}

/** The link's type and whether it is metered: what the lite profile and the probe depend on. */
export function linkClass(network: Network): string {
  return `${network.type}${network.metered ? ':metered' : ''}`;
}

interface Classes {
  battery: string;
  link: string;
}

/**
 * Decides when an early heartbeat is due. Feed it what happens (a workload change, power and
 * link as read, every heartbeat sent) with the time; ask `dueAtMs` when to send.
 */
export class EarlyHeartbeatPolicy {
  settings: EarlyHeartbeatSettings;
  #tokens: number;
  #tokensAtMs: number;
  #workloadChanges = 0;
  #reportedWorkloadChanges = 0;
  #firstPendingMs: number | null = null;
  #reported: Classes | null = null;
  #observed: Classes | null = null;

  constructor(settings: EarlyHeartbeatSettings, nowMs: number) {
    this.settings = settings;
    this.#tokens = settings.burst;
    this.#tokensAtMs = nowMs;
  }

  /** A new heartbeat interval (a hello reply): the rate follows it, tokens carried over. */
  setSettings(settings: EarlyHeartbeatSettings, nowMs: number): void {
    this.#refill(nowMs);
    this.settings = settings;
    this.#tokens = Math.min(this.#tokens, settings.burst);
  }

  /** A workload's report changed (phase, reason, failed variant). */
  workloadChanged(nowMs: number): void {
    this.#workloadChanges += 1;
    this.#markPending(nowMs);
  }

  /** Number of workload changes so far; pass it back to `sent` as what a heartbeat covers. */
  get workloadChanges(): number {
    return this.#workloadChanges;
  }

  /** Power and link as just read. */
  observe(c: Conditions, nowMs: number): void {
    this.#observed = this.#classes(c);
    if (this.pending().length > 0) this.#markPending(nowMs);
    else this.#firstPendingMs = null;
  }

  /** What an early heartbeat would report now; empty when none is due. */
  pending(): EarlyReason[] {
    const reasons: EarlyReason[] = [];
    if (this.#workloadChanges > this.#reportedWorkloadChanges) reasons.push('workload');
    if (this.#reported && this.#observed) {
      if (this.#observed.battery !== this.#reported.battery) reasons.push('battery');
      if (this.#observed.link !== this.#reported.link) reasons.push('link');
    }
    return reasons;
  }

  /** When the early heartbeat should go out (ms, same clock), or null when none is due. */
  dueAtMs(nowMs: number): number | null {
    if (this.pending().length === 0 || this.#firstPendingMs === null) return null;
    this.#refill(nowMs);
    const tokenAt = this.#tokens >= 1 ? nowMs : nowMs + (1 - this.#tokens) * this.settings.refillMs;
    return Math.max(this.#firstPendingMs + this.settings.coalesceMs, tokenAt);
  }

  /**
   * A heartbeat went out carrying `c` and the workload reports as of `workloadChanges`
   * (read before its telemetry); `early` ones spend a token. Any heartbeat settles what it carried.
   */
  sent(c: Conditions, workloadChanges: number, early: boolean, nowMs: number): void {
    this.#refill(nowMs);
    if (early) this.#tokens = Math.max(0, this.#tokens - 1);
    this.#reported = this.#classes(c);
    this.#observed ??= this.#reported;
    this.#reportedWorkloadChanges = Math.max(this.#reportedWorkloadChanges, workloadChanges);
    this.#firstPendingMs = this.pending().length > 0 ? nowMs : null;
  }

  #markPending(nowMs: number): void {
    this.#firstPendingMs ??= nowMs;
  }

  #refill(nowMs: number): void {
    const elapsed = Math.max(0, nowMs - this.#tokensAtMs);
    this.#tokens = Math.min(this.settings.burst, this.#tokens + elapsed / this.settings.refillMs);
    this.#tokensAtMs = nowMs;
  }

  #classes(c: Conditions): Classes {
    return { battery: batteryClass(c.power, this.settings.battery), link: linkClass(c.network) };
  }
}

export interface EarlyHeartbeatTimers {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(timer: unknown): void;
}

export const realTimers: EarlyHeartbeatTimers = {
  now: () => performance.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (t) => clearTimeout(t as NodeJS.Timeout),
};

export interface EarlyHeartbeatDriver {
  readonly policy: EarlyHeartbeatPolicy;
  workloadChanged(): void;
  observe(c: Conditions): void;
  /** Call for every heartbeat that went out, regular or early. */
  sent(c: Conditions, workloadChanges: number, early: boolean): void;
  /**
   * The early heartbeat asked for could not go out (disconnected, telemetry unreadable): what
   * it carried stays pending and is tried again at the refill pace, or at once on `resume()`.
   */
  notSent(): void;
  /** The sender can publish again (reconnected): anything pending goes out now. */
  resume(): void;
  setIntervalMs(intervalMs: number): void;
  stop(): void;
}

/**
 * Runs the policy on a timer: `send(reasons)` is called when an early heartbeat is due; the
 * sender reports it back through `sent(..., true)` once published, or `notSent()` if it could
 * not. One early heartbeat is in flight at a time, so a slow telemetry read never turns one
 * change into several heartbeats (each spending a token).
 */
export function createEarlyHeartbeatDriver(o: {
  intervalMs: number;
  battery?: readonly BatteryThresholdSet[];
  send(reasons: EarlyReason[]): void;
  timers?: EarlyHeartbeatTimers;
}): EarlyHeartbeatDriver {
  const timers = o.timers ?? realTimers;
  const battery = o.battery ?? [DEFAULT_BATTERY_THRESHOLDS];
  const policy = new EarlyHeartbeatPolicy(earlyHeartbeatSettings(o.intervalMs, battery), timers.now());
  let timer: unknown;
  let timerAt = Number.POSITIVE_INFINITY;
  let stopped = false;
  let inFlight = false;
  /** After a send that could not go out, the next try waits until then (ms), or a resume. */
  let retryAtMs = Number.NEGATIVE_INFINITY;

  const arm = () => {
    if (stopped || inFlight) return;
    const now = timers.now();
    const policyDue = policy.dueAtMs(now);
    const due = policyDue === null ? null : Math.max(policyDue, retryAtMs);
    if (due === null) {
      if (timer !== undefined) timers.clearTimer(timer);
      timer = undefined;
      timerAt = Number.POSITIVE_INFINITY;
      return;
    }
    if (timer !== undefined && timerAt <= due) return;
    if (timer !== undefined) timers.clearTimer(timer);
    timerAt = due;
    timer = timers.setTimer(fire, Math.max(0, due - now));
  };
  const fire = () => {
    timer = undefined;
    timerAt = Number.POSITIVE_INFINITY;
    if (stopped) return;
    const reasons = policy.pending();
    if (reasons.length === 0) return;
    const due = policy.dueAtMs(timers.now());
    // A timer may fire a hair early; wait out the rest rather than overspend.
    if (due !== null && due > timers.now() + 1) return arm();
    inFlight = true;
    o.send(reasons);
  };

  return {
    policy,
    workloadChanged() {
      policy.workloadChanged(timers.now());
      arm();
    },
    observe(c) {
      policy.observe(c, timers.now());
      arm();
    },
    sent(c, workloadChanges, early) {
      if (early) inFlight = false;
      retryAtMs = Number.NEGATIVE_INFINITY;
      policy.sent(c, workloadChanges, early, timers.now());
      arm();
    },
    notSent() {
      inFlight = false;
      retryAtMs = timers.now() + policy.settings.refillMs;
      arm();
    },
    resume() {
      retryAtMs = Number.NEGATIVE_INFINITY;
      arm();
    },
    setIntervalMs(intervalMs) {
      policy.setSettings(earlyHeartbeatSettings(intervalMs, battery), timers.now());
      arm();
    },
    stop() {
      stopped = true;
      if (timer !== undefined) timers.clearTimer(timer);
      timer = undefined;
    },
  };
}

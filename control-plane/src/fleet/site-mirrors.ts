// Keeps each site's mirror of the assignments bucket following the hub after an uplink cut.
//
// nats-server (2.12) resumes a mirror when its site's leaf link returns only if no consumer
// request of the mirror is outstanding. During a long cut the mirror keeps asking the hub for a
// consumer; a request sent while the link is down waits 30 s for a reply that never comes, and
// each failure adds 10 s to the next retry (up to 2 min). A site could thus read assignments
// from before the cut for most of a minute after a one-minute cut heals.
//
// The leader asks each site's JetStream (by its domain, across the leaf link) how long its
// mirror has heard nothing from the hub. A healthy mirror hears a heartbeat every second; one
// silent for longer than the server's own stall limit, on a link that answers, for a grace
// period in which the server could have resumed it by itself, is created again with the same
// configuration, which starts a fresh consumer at once. Agents reading meanwhile keep what
// they run: a missing entry or bucket changes nothing on a node.
import { jetstreamManager, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';

/** What one look at a site's mirror found. */
export interface MirrorObservation {
  /** The site's JetStream answered. */
  reachable: boolean;
  /** The stream there is a mirror (nothing is done to anything else). */
  mirror: boolean;
  /** Since the mirror last heard from the hub, ms; null: never. */
  silentMs: number | null;
}

export interface MirrorTimings {
  /** Silent longer than this is stalled: nats-server's own limit (10 s), ms. */
  stallMs: number;
  /** Stalled this long on a link that answers before it is created again, ms. */
  graceMs: number;
  /** At most one re-creation per site this often, ms. */
  cooldownMs: number;
}

export const DEFAULT_MIRROR_TIMINGS: MirrorTimings = { stallMs: 10_000, graceMs: 5_000, cooldownMs: 60_000 };

/** Per site: since when its mirror has been seen stalled, and when it was last created again. */
export interface MirrorState {
  stalledSinceMs?: number;
  recreatedAtMs?: number;
}

export type MirrorDecision = { recreate: boolean; state: MirrorState };

/** Pure: whether a site's mirror should be created again now, and the state to keep. */
export function decideMirror(state: MirrorState, seen: MirrorObservation, nowMs: number, t: MirrorTimings): MirrorDecision {
  const kept: MirrorState = state.recreatedAtMs === undefined ? {} : { recreatedAtMs: state.recreatedAtMs };
  // Unreachable: the link is still down and nothing there can be helped from here.
  if (!seen.reachable || !seen.mirror) return { recreate: false, state: kept };
  const stalled = seen.silentMs === null || seen.silentMs > t.stallMs;
  if (!stalled) return { recreate: false, state: kept };
  const since = state.stalledSinceMs ?? nowMs;
  const cooling = state.recreatedAtMs !== undefined && nowMs - state.recreatedAtMs < t.cooldownMs;
  if (nowMs - since < t.graceMs || cooling) return { recreate: false, state: { ...kept, stalledSinceMs: since } };
  return { recreate: true, state: { recreatedAtMs: nowMs } };
}

export interface SiteMirrorKeeperOptions {
  nc: NatsConnection;
  /** JetStream domains of the sites' leaf nodes. */
  domains: readonly string[];
  /** The mirrored stream, the same name at the hub and at each site (`KV_ep-assignments`). */
  stream: string;
  log: Logger;
  /** Between looks at every site, ms. */
  intervalMs?: number;
  /** Reply wait for one site, ms: a cut link answers "no responders" at once or not at all. */
  requestTimeoutMs?: number;
  timings?: Partial<MirrorTimings>;
  /** Called after a site's mirror was created again. */
  onRecreated?: (domain: string) => void;
}

/** Looks at every site's mirror on a timer (leader only: start on leading, stop after). */
export class SiteMirrorKeeper {
  readonly #o: SiteMirrorKeeperOptions;
  readonly #t: MirrorTimings;
  readonly #state = new Map<string, MirrorState>();
  readonly #jsm = new Map<string, JetStreamManager>();
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<void> | undefined;

  constructor(options: SiteMirrorKeeperOptions) {
    this.#o = options;
    this.#t = { ...DEFAULT_MIRROR_TIMINGS, ...options.timings };
  }

  start(): void {
    if (this.#timer || this.#o.domains.length === 0) return;
    this.#timer = setInterval(() => {
      this.#pass ??= this.checkAll().finally(() => (this.#pass = undefined));
    }, this.#o.intervalMs ?? 2500);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#pass;
    this.#state.clear();
  }

  /** One look at every site; re-creates the stalled mirrors. */
  async checkAll(): Promise<void> {
    await Promise.all(this.#o.domains.map((d) => this.check(d)));
  }

  async check(domain: string): Promise<void> {
    const { log, stream } = this.#o;
    const jsm = await this.#manager(domain);
    const info = await jsm.streams.info(stream).catch(() => null);
    const seen: MirrorObservation = {
      reachable: info !== null,
      mirror: info?.config.mirror !== undefined,
      silentMs: info ? silentMs(info) : null,
    };
    const now = Date.now();
    const { recreate, state } = decideMirror(this.#state.get(domain) ?? {}, seen, now, this.#t);
    this.#state.set(domain, state);
    if (!recreate || !info) return;
    try {
      await jsm.streams.delete(stream);
      await jsm.streams.add(info.config);
      log.warn({ site: domain, stream, silentMs: seen.silentMs, lastSeq: info.state.last_seq }, 'site mirror stopped following the hub; created again');
      this.#o.onRecreated?.(domain);
    } catch (err) {
      log.warn({ site: domain, stream, err }, 'could not create a stalled site mirror again; the next look retries');
      this.#state.delete(domain);
    }
  }

  async #manager(domain: string): Promise<JetStreamManager> {
    let jsm = this.#jsm.get(domain);
    if (!jsm) {
      // No API check: a site whose link is down would fail it, and it is asked again anyway.
      jsm = await jetstreamManager(this.#o.nc, { domain, checkAPI: false, timeout: this.#o.requestTimeoutMs ?? 2000 });
      this.#jsm.set(domain, jsm);
    }
    return jsm;
  }
}

/** Since the mirror last heard from its origin, ms; null when it never has. */
function silentMs(info: StreamInfo): number | null {
  const active = info.mirror?.active;
  if (active === undefined || active < 0) return null;
  return active / 1e6;
}

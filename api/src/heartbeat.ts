// Heartbeat deltas: a section goes out only when it changed since the previous heartbeat, and
// every `fullEvery`-th heartbeat carries everything, so an idle node sends little more than
// `{"v":1,"seq":n}`. Values are rounded first, so noise does not count as change. The agent and
// the fleet simulator both send through this builder, so the simulator is protocol-true.
import { encode } from './codec.ts';
import type { Network, Power } from './hardware.ts';
import { HeartbeatObject, PROTOCOL_VERSION, type AcceleratorLoad, type Heartbeat, type WorkloadReport } from './messages.ts';

export interface Telemetry {
  power: Power;
  network: Network;
  load: AcceleratorLoad[];
  workloads: WorkloadReport[];
  cachedArtifacts: string[];
}

const SECTIONS = ['power', 'network', 'load', 'workloads', 'cachedArtifacts'] as const;
type Section = (typeof SECTIONS)[number];

const round = (value: number, step: number) => Math.round(value / step) * step;
const roundTo = (value: number, step: number) => Number(round(value, step).toFixed(6));

/** Pure: the telemetry as it goes on the wire. */
export function normalize(t: Telemetry): Telemetry {
  const power: Power = { ...t.power };
  if (power.batteryPercent !== undefined) power.batteryPercent = Math.round(power.batteryPercent);
  const network: Network = { ...t.network };
  if (network.rttMs !== undefined) network.rttMs = roundTo(network.rttMs, 0.1);
  // Two significant figures: a re-measured link that is about as fast is not news.
  if (network.bandwidthMbps !== undefined) network.bandwidthMbps = Number(network.bandwidthMbps.toPrecision(2));
  return {
    power,
    network,
    // Utilisation in 5 % steps: enough for placement, and idle stays exactly 0.
    load: t.load.map((l) => ({ id: l.id, util: roundTo(Math.min(1, Math.max(0, l.util)), 0.05), queue: l.queue })),
    workloads: t.workloads.map((w) => {
      const r: WorkloadReport = { ...w };
      if (r.p50Ms !== undefined) r.p50Ms = roundTo(r.p50Ms, 0.1);
      if (r.p99Ms !== undefined) r.p99Ms = roundTo(r.p99Ms, 0.1);
      if (r.rps !== undefined) r.rps = roundTo(r.rps, 0.1);
      return r;
    }),
    cachedArtifacts: [...t.cachedArtifacts].sort(),
  };
}

export interface HeartbeatBuilder {
  next(telemetry: Telemetry): Heartbeat;
  /** The next heartbeat is full (after a new hello the control plane may have forgotten us). */
  reset(fullEvery?: number): void;
}

export function createHeartbeatBuilder(fullEvery: number): HeartbeatBuilder {
  let every = Math.max(1, fullEvery);
  let seq = 0;
  let sinceFull = 0;
  let last = new Map<Section, string>();
  return {
    next(telemetry) {
      const t = normalize(telemetry);
      const full = sinceFull === 0;
      const hb: Heartbeat = { v: PROTOCOL_VERSION, seq };
      if (full) hb.full = true;
      const now = new Map<Section, string>();
      for (const section of SECTIONS) {
        const text = JSON.stringify(t[section]);
        now.set(section, text);
        if (full || last.get(section) !== text) Object.assign(hb, { [section]: t[section] });
      }
      last = now;
      seq += 1;
      sinceFull = (sinceFull + 1) % every;
      return hb;
    },
    reset(fullEveryNext) {
      if (fullEveryNext !== undefined) every = Math.max(1, fullEveryNext);
      sinceFull = 0;
    },
  };
}

const utf8 = new TextEncoder();

/**
 * A heartbeat as it goes on the wire, validated first: an idle delta (no section, not full)
 * as its bare `seq`, anything else as the object. `decode(Heartbeat, ...)` reads both.
 */
export function encodeHeartbeat(hb: Heartbeat): Uint8Array {
  const data = encode(HeartbeatObject, 'heartbeat', hb);
  const idle = !hb.full && SECTIONS.every((section) => hb[section] === undefined);
  return idle ? utf8.encode(String(hb.seq)) : data;
}

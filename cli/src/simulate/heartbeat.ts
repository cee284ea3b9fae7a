// Delta heartbeats as the agent sends them: a section only when it changed since the previous
// heartbeat (after rounding, so noise is not change), everything on every fullEvery-th one.
// Pure; the same rules as the agent's builder, kept here so the simulator has no dependency on
// the agent workspace.
import { PROTOCOL_VERSION, type AcceleratorLoad, type Heartbeat, type Network, type Power, type WorkloadReport } from '@edgeplane/api';

export interface Telemetry {
  power: Power;
  network: Network;
  load: AcceleratorLoad[];
  workloads: WorkloadReport[];
  cachedArtifacts: string[];
}

const SECTIONS = ['power', 'network', 'load', 'workloads', 'cachedArtifacts'] as const;
type Section = (typeof SECTIONS)[number];

const roundTo = (value: number, step: number) => Number((Math.round(value / step) * step).toFixed(6));

/** The telemetry as it goes on the wire. */
export function normalize(t: Telemetry): Telemetry {
  const power: Power = { ...t.power };
  if (power.batteryPercent !== undefined) power.batteryPercent = Math.round(power.batteryPercent);
  const network: Network = { ...t.network };
  if (network.rttMs !== undefined) network.rttMs = roundTo(network.rttMs, 0.1);
  if (network.bandwidthMbps !== undefined) network.bandwidthMbps = Number(network.bandwidthMbps.toPrecision(2));
  return {
    power,
    network,
    load: t.load.map((l) => ({ id: l.id, util: roundTo(Math.min(1, Math.max(0, l.util)), 0.05), queue: l.queue })),
    workloads: t.workloads.map((w) => {
      const r: WorkloadReport = { ...w };
      if (r.p50Ms !== undefined) r.p50Ms = roundTo(r.p50Ms, 0.1);
      if (r.p99Ms !== undefined) r.p99Ms = roundTo(r.p99Ms, 0.1);
      return r;
    }),
    cachedArtifacts: [...t.cachedArtifacts].sort(),
  };
}

export interface DeltaBuilder {
  next(telemetry: Telemetry): Heartbeat;
  /** The next heartbeat is full, e.g. after a new hello; optionally with a new period. */
  reset(fullEvery?: number): void;
}

export function createDeltaBuilder(fullEvery: number): DeltaBuilder {
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
    reset(next) {
      if (next !== undefined) every = Math.max(1, next);
      sinceFull = 0;
    },
  };
}

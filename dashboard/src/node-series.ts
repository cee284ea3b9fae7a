// The node view's timelines: the hour of history from the server, the samples pushed since,
// and the node's live state as the newest point, so a change shows before the next sample.
import type { FleetNode, HistorySample, NodeHistory } from '../../api/src/dashboard.ts';
import { LINK_ORDER, PRECISION_ORDER } from './format.ts';

export interface TierChange {
  t: number;
  deployment: string;
  from: string | null;
  to: string | null;
}

export interface NodeSeries {
  t: number[];
  battery: (number | null)[];
  link: (number | null)[];
  workloads: { deployment: string; tier: (number | null)[]; p99: (number | null)[] }[];
  tierChanges: TierChange[];
}

export const linkIndex = (type: string | null): number | null => {
  const i = type === null ? -1 : LINK_ORDER.indexOf(type as (typeof LINK_ORDER)[number]);
  return i < 0 ? null : i;
};
export const tierIndex = (precision: string | null): number | null => {
  const i = precision === null ? -1 : PRECISION_ORDER.indexOf(precision as (typeof PRECISION_ORDER)[number]);
  return i < 0 ? null : i;
};

/**
 * History plus the rows the page has (pushed samples, live states it saw) as rows, oldest first,
 * no two at the same time (history wins at its own times, else the later given).
 */
export function mergeSamples(history: NodeHistory, samples: HistorySample[]): HistorySample[] {
  const rows: HistorySample[] = history.t.map((t, i) => ({
    t,
    batteryPercent: history.batteryPercent[i] ?? null,
    charging: history.charging[i] ?? false,
    reachable: history.reachable[i] ?? false,
    link: history.link[i] ?? null,
    workloads: history.workloads.map((w) => ({ deployment: w.deployment, p99Ms: w.p99Ms[i] ?? null, precision: w.precision[i] ?? null })),
  }));
  // Rows the page saw are kept even when older than history's newest: a tier that lasted less
  // than a history interval shows only there, and its change must still be marked.
  const taken = new Set(history.t);
  const given = new Map<number, HistorySample>();
  for (const s of samples) if (!taken.has(s.t)) given.set(s.t, s);
  return rows.concat([...given.values()]).sort((a, b) => a.t - b.t);
}

/**
 * The live node as a row at `nowMs`. The fleet's node carries no latency (it moves with every
 * heartbeat): each workload's p99 is the latest one `before` had.
 */
export function liveRow(node: FleetNode, nowMs: number, before?: HistorySample): HistorySample {
  return {
    t: nowMs,
    batteryPercent: node.power?.batteryPercent ?? null,
    charging: node.power?.charging ?? false,
    reachable: node.reachable,
    link: node.link?.type ?? null,
    workloads: node.workloads.map((w) => ({ deployment: w.deployment, p99Ms: before?.workloads.find((b) => b.deployment === w.deployment)?.p99Ms ?? null, precision: w.precision })),
  };
}

/** Columns for the plots over [fromMs, ...]; tier changes found between consecutive rows. */
export function nodeSeries(rows: HistorySample[], fromMs: number): NodeSeries {
  const kept = rows.filter((r) => r.t >= fromMs);
  const deployments = [...new Set(kept.flatMap((r) => r.workloads.map((w) => w.deployment)))].sort();
  const series: NodeSeries = {
    t: kept.map((r) => r.t),
    battery: kept.map((r) => r.batteryPercent),
    link: kept.map((r) => linkIndex(r.link)),
    workloads: deployments.map((deployment) => ({ deployment, tier: [], p99: [] })),
    tierChanges: [],
  };
  const previous = new Map<string, string | null>();
  for (const r of kept) {
    for (const w of series.workloads) {
      const at = r.workloads.find((x) => x.deployment === w.deployment);
      const precision = at?.precision ?? null;
      w.tier.push(tierIndex(precision));
      w.p99.push(at?.p99Ms ?? null);
      if (previous.has(w.deployment) && previous.get(w.deployment) !== precision && precision !== null) {
        series.tierChanges.push({ t: r.t, deployment: w.deployment, from: previous.get(w.deployment) ?? null, to: precision });
      }
      if (precision !== null || !previous.has(w.deployment)) previous.set(w.deployment, precision);
    }
  }
  return series;
}

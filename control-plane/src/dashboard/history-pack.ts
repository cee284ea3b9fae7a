// One node's history sample as a few bytes, and the columns the page plots from a run of them.
// Pure. Layout, big-endian:
//   u32 tick (ms since the epoch / HISTORY_INTERVAL_MS)
//   u8  battery percent 0..100, 255 when the node reports none
//   u8  flags: bit 0 charging, bit 1 reachable, bits 4..7 link type index + 1 (0: none)
//   u8  workloads n (at most MAX_SAMPLE_WORKLOADS), then n times:
//     u32 FNV-1a of the deployment key (names are kept once, in a dictionary)
//     u8  precision index in PRECISIONS, 255 when unknown
//     u16 p99 ms as binary16 (NaN when unmeasured): 3 significant digits is plenty on a plot
// A node with one workload costs 14 bytes a sample, 5 KiB an hour.
import {
  float16ToFloat32,
  float32ToFloat16,
  HISTORY_INTERVAL_MS,
  LINK_TYPES,
  PRECISIONS,
  type HistorySample,
  type LinkType,
  type NodeHistory,
  type Precision,
} from '@edgeplane/api';

export const MAX_SAMPLE_WORKLOADS = 32;
const HEADER = 7;
const PER_WORKLOAD = 7;
const NONE = 255;
const HALF_NAN = 0x7e00;

/** 32-bit FNV-1a of a string's UTF-16 code units: the workload's id inside samples. */
export function workloadHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export const hashHex = (h: number): string => h.toString(16).padStart(8, '0');

export function tickOf(ms: number): number {
  return Math.floor(ms / HISTORY_INTERVAL_MS);
}

export function packSample(s: HistorySample): Buffer {
  const workloads = s.workloads.slice(0, MAX_SAMPLE_WORKLOADS);
  const buf = Buffer.alloc(HEADER + PER_WORKLOAD * workloads.length);
  buf.writeUInt32BE(tickOf(s.t) >>> 0, 0);
  const battery = s.batteryPercent === null ? NONE : Math.max(0, Math.min(100, Math.round(s.batteryPercent)));
  buf.writeUInt8(battery, 4);
  const link = s.link === null ? 0 : LINK_TYPES.indexOf(s.link) + 1;
  buf.writeUInt8((s.charging ? 1 : 0) | (s.reachable ? 2 : 0) | ((link & 0x0f) << 4), 5);
  buf.writeUInt8(workloads.length, 6);
  let at = HEADER;
  for (const w of workloads) {
    buf.writeUInt32BE(workloadHash(w.deployment), at);
    buf.writeUInt8(w.precision === null ? NONE : PRECISIONS.indexOf(w.precision), at + 4);
    buf.writeUInt16BE(w.p99Ms === null ? HALF_NAN : float32ToFloat16(w.p99Ms), at + 5);
    at += PER_WORKLOAD;
  }
  return buf;
}

/** A packed sample with its workloads still as hashes. */
export interface UnpackedSample {
  t: number;
  batteryPercent: number | null;
  charging: boolean;
  reachable: boolean;
  link: LinkType | null;
  workloads: { hash: number; precision: Precision | null; p99Ms: number | null }[];
}

export class HistoryFormatError extends Error {
  readonly code = 'HISTORY_FORMAT';
}

export function unpackSample(buf: Buffer): UnpackedSample {
  if (buf.length < HEADER) throw new HistoryFormatError(`history sample: ${buf.length} bytes, at least ${HEADER} needed`);
  const n = buf.readUInt8(6);
  if (buf.length !== HEADER + PER_WORKLOAD * n) throw new HistoryFormatError(`history sample: ${buf.length} bytes for ${n} workloads`);
  const battery = buf.readUInt8(4);
  const flags = buf.readUInt8(5);
  const link = flags >> 4;
  const workloads: UnpackedSample['workloads'] = [];
  for (let i = 0, at = HEADER; i < n; i++, at += PER_WORKLOAD) {
    const p = buf.readUInt8(at + 4);
    const half = buf.readUInt16BE(at + 5);
    const p99 = float16ToFloat32(half);
    workloads.push({ hash: buf.readUInt32BE(at), precision: PRECISIONS[p] ?? null, p99Ms: Number.isNaN(p99) ? null : p99 });
  }
  return {
    t: buf.readUInt32BE(0) * HISTORY_INTERVAL_MS,
    batteryPercent: battery === NONE ? null : battery,
    charging: (flags & 1) !== 0,
    reachable: (flags & 2) !== 0,
    link: LINK_TYPES[link - 1] ?? null,
    workloads,
  };
}

/**
 * The columns of NodeHistory from samples in any order (one per tick is kept, the last),
 * with hashes named by `names`; a hash with no name shows as `#<hex>`.
 */
export function historyColumns(node: string, samples: readonly UnpackedSample[], names: ReadonlyMap<number, string>): NodeHistory {
  const byTick = new Map<number, UnpackedSample>();
  for (const s of samples) byTick.set(s.t, s);
  const rows = [...byTick.values()].sort((a, b) => a.t - b.t);
  const nameOf = (h: number) => names.get(h) ?? `#${hashHex(h)}`;
  const keys = [...new Set(rows.flatMap((r) => r.workloads.map((w) => nameOf(w.hash))))].sort();
  const columns = new Map(keys.map((k) => [k, { deployment: k, p99Ms: [] as (number | null)[], precision: [] as (Precision | null)[] }]));
  const tierChanges: NodeHistory['tierChanges'] = [];
  const last = new Map<string, Precision | null>();
  for (const r of rows) {
    const here = new Map(r.workloads.map((w) => [nameOf(w.hash), w]));
    for (const [k, col] of columns) {
      const w = here.get(k);
      col.p99Ms.push(w?.p99Ms ?? null);
      col.precision.push(w?.precision ?? null);
      const to = w?.precision ?? null;
      // A tier change is one precision to another; a workload coming or going is not.
      const from = last.get(k);
      if (from !== undefined && from !== null && to !== null && from !== to) tierChanges.push({ t: r.t, deployment: k, from, to });
      if (to !== null) last.set(k, to);
    }
  }
  return {
    node,
    intervalMs: HISTORY_INTERVAL_MS,
    t: rows.map((r) => r.t),
    batteryPercent: rows.map((r) => r.batteryPercent),
    charging: rows.map((r) => r.charging),
    reachable: rows.map((r) => r.reachable),
    link: rows.map((r) => r.link),
    workloads: [...columns.values()],
    tierChanges,
  };
}

/** The sample a node's current state makes at time `t`. */
export function sampleOf(
  node: { power: { batteryPercent: number | null; charging: boolean } | null; reachable: boolean; link: { type: LinkType } | null; workloads: readonly { deployment: string; p99Ms: number | null; precision: Precision | null }[] },
  t: number,
): HistorySample {
  return {
    t: tickOf(t) * HISTORY_INTERVAL_MS,
    batteryPercent: node.power?.batteryPercent ?? null,
    charging: node.power?.charging ?? false,
    reachable: node.reachable,
    link: node.link?.type ?? null,
    // One column per deployment: a second replica on the same node is not plotted apart.
    workloads: [...new Map(node.workloads.map((w) => [w.deployment, w] as const)).values()].map((w) => ({ deployment: w.deployment, p99Ms: w.p99Ms, precision: w.precision })),
  };
}

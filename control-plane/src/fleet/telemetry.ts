// Live node telemetry as kept in Redis: one hash per node, merged from heartbeat deltas.
// Pure functions; the Redis I/O lives in telemetry-store.ts.
import {
  AcceleratorLoad,
  Network,
  Power,
  WorkloadReport,
  type Heartbeat,
  type Hello,
} from '@edgeplane/api';
import { z } from 'zod';

export interface NodeTelemetry {
  seq: number;
  lastSeenMs: number;
  bootId?: string | undefined;
  power?: Power | undefined;
  network?: Network | undefined;
  load?: AcceleratorLoad[] | undefined;
  workloads?: WorkloadReport[] | undefined;
  cachedArtifacts?: string[] | undefined;
}

/** Hash fields; JSON-valued ones hold one heartbeat section each. */
export const TelemetryField = {
  seq: 'seq',
  lastSeenMs: 'lastSeenMs',
  bootId: 'bootId',
  power: 'power',
  network: 'network',
  load: 'load',
  workloads: 'workloads',
  cachedArtifacts: 'cachedArtifacts',
} as const;

export const TELEMETRY_FIELDS = Object.values(TelemetryField);

/**
 * The hash fields one heartbeat sets. A heartbeat is a delta: a section is present only when
 * it changed, so writing just the present sections merges it. A full heartbeat also clears
 * the list sections it leaves out, since for it "absent" means "none".
 */
export function heartbeatFields(hb: Heartbeat, nowMs: number): Record<string, string> {
  const fields: Record<string, string> = { [TelemetryField.seq]: String(hb.seq), [TelemetryField.lastSeenMs]: String(nowMs) };
  if (hb.power) fields[TelemetryField.power] = JSON.stringify(hb.power);
  if (hb.network) fields[TelemetryField.network] = JSON.stringify(hb.network);
  if (hb.load || hb.full) fields[TelemetryField.load] = JSON.stringify(hb.load ?? []);
  if (hb.workloads || hb.full) fields[TelemetryField.workloads] = JSON.stringify(hb.workloads ?? []);
  if (hb.cachedArtifacts || hb.full) fields[TelemetryField.cachedArtifacts] = JSON.stringify(hb.cachedArtifacts ?? []);
  return fields;
}

/** The fields a hello sets: it carries the whole state, so every section is replaced. */
export function helloFields(hello: Hello, nowMs: number): Record<string, string> {
  return {
    [TelemetryField.seq]: '0',
    [TelemetryField.lastSeenMs]: String(nowMs),
    [TelemetryField.bootId]: hello.bootId,
    [TelemetryField.power]: JSON.stringify(hello.power),
    [TelemetryField.network]: JSON.stringify(hello.network),
    [TelemetryField.load]: '[]',
    [TelemetryField.workloads]: '[]',
    [TelemetryField.cachedArtifacts]: JSON.stringify(hello.cachedArtifacts),
  };
}

/** Applies a heartbeat to telemetry in memory exactly as heartbeatFields does in Redis. */
export function mergeHeartbeat(prev: NodeTelemetry | undefined, hb: Heartbeat, nowMs: number): NodeTelemetry {
  const next: NodeTelemetry = { ...prev, seq: hb.seq, lastSeenMs: nowMs };
  if (hb.power) next.power = hb.power;
  if (hb.network) next.network = hb.network;
  if (hb.load || hb.full) next.load = hb.load ?? [];
  if (hb.workloads || hb.full) next.workloads = hb.workloads ?? [];
  if (hb.cachedArtifacts || hb.full) next.cachedArtifacts = hb.cachedArtifacts ?? [];
  return next;
}

function json<S extends z.ZodType>(schema: S, raw: string | undefined): z.output<S> | undefined {
  if (raw === undefined) return undefined;
  try {
    const r = schema.safeParse(JSON.parse(raw));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

// Built once: parseTelemetry runs for every node on every reconcile.
const LoadList = z.array(AcceleratorLoad);
const WorkloadList = z.array(WorkloadReport);
const DigestList = z.array(z.string());

/** Reads a node hash; null when the node never reported. Bad fields read as absent. */
export function parseTelemetry(hash: Readonly<Record<string, string | null | undefined>>): NodeTelemetry | null {
  const lastSeen = Number(hash[TelemetryField.lastSeenMs]);
  if (!Number.isFinite(lastSeen) || hash[TelemetryField.lastSeenMs] == null) return null;
  const get = (f: string) => hash[f] ?? undefined;
  return {
    seq: Number(hash[TelemetryField.seq] ?? 0) || 0,
    lastSeenMs: lastSeen,
    bootId: get(TelemetryField.bootId),
    power: json(Power, get(TelemetryField.power)),
    network: json(Network, get(TelemetryField.network)),
    load: json(LoadList, get(TelemetryField.load)),
    workloads: json(WorkloadList, get(TelemetryField.workloads)),
    cachedArtifacts: json(DigestList, get(TelemetryField.cachedArtifacts)),
  };
}

/** Reachable: a heartbeat arrived within three intervals. */
export function isFresh(t: Pick<NodeTelemetry, 'lastSeenMs'> | null | undefined, nowMs: number, heartbeatIntervalMs: number): boolean {
  return !!t && nowMs - t.lastSeenMs <= 3 * heartbeatIntervalMs;
}

/**
 * Phase, variant and failure per workload, in a stable form to compare two heartbeats by. The
 * reason counts: a switch that failed while the old variant keeps serving changes nothing else.
 */
export function workloadSignature(workloads: readonly WorkloadReport[] | undefined): string {
  if (!workloads) return '';
  return workloads
    .map((w) => `${w.key}|${w.variant}|${w.accelerator}|${w.phase}|${w.reason ?? ''}|${w.failedVariant ?? ''}`)
    .sort()
    .join(';');
}

/** What a heartbeat could change that the leader must look at. */
export interface ChangeDigest {
  power: string;
  network: string;
  workloads: string;
}

export function digestOf(t: Pick<NodeTelemetry, 'power' | 'network' | 'workloads'>): ChangeDigest {
  return {
    power: t.power ? JSON.stringify(t.power) : '',
    network: t.network ? JSON.stringify(t.network) : '',
    workloads: workloadSignature(t.workloads),
  };
}

/**
 * Whether a heartbeat changes power, network or a workload phase relative to the digest
 * this replica last saw for the node. Idle heartbeats carry none of these and cost nothing.
 */
export function heartbeatChanges(prev: ChangeDigest | undefined, hb: Heartbeat): ChangeDigest | null {
  if (!hb.power && !hb.network && !hb.workloads && !hb.full) return null;
  const next: ChangeDigest = {
    power: hb.power ? JSON.stringify(hb.power) : (prev?.power ?? ''),
    network: hb.network ? JSON.stringify(hb.network) : (prev?.network ?? ''),
    workloads: hb.workloads || hb.full ? workloadSignature(hb.workloads ?? []) : (prev?.workloads ?? ''),
  };
  if (prev && prev.power === next.power && prev.network === next.network && prev.workloads === next.workloads) return null;
  return next;
}

// What `get nodes`, `describe node` and `top nodes` print about EdgeNodes. Pure: the objects
// in, text or data out.
import type { CoreV1Event } from '@kubernetes/client-node';
import { PRECISIONS, type EdgeModelDeployment, type EdgeNode } from '@edgeplane/api';
import { age, ms, percent, table } from './format.ts';

function condition(node: EdgeNode, type: string): string | undefined {
  return node.status?.conditions?.find((c) => c.type === type)?.status;
}

/** kubectl's node STATUS: Ready, NotReady or Unknown, with SchedulingDisabled when cordoned. */
export function nodeStatus(node: EdgeNode): string {
  const ready = condition(node, 'Ready');
  const base = ready === 'True' ? 'Ready' : ready === 'False' ? 'NotReady' : 'Unknown';
  return node.spec?.unschedulable ? `${base},SchedulingDisabled` : base;
}

/** Replicas placed on each node, from the deployments' status. */
export function replicasByNode(deployments: readonly EdgeModelDeployment[]): Map<string, Array<{ deployment: string; variant: string; accelerator: string; phase: string }>> {
  const out = new Map<string, Array<{ deployment: string; variant: string; accelerator: string; phase: string }>>();
  for (const d of deployments) {
    for (const p of d.status?.placements ?? []) {
      const list = out.get(p.node) ?? [];
      list.push({ deployment: `${d.metadata.namespace}/${d.metadata.name}`, variant: p.variant, accelerator: p.accelerator, phase: p.phase });
      out.set(p.node, list);
    }
  }
  return out;
}

function linkText(node: EdgeNode): string | undefined {
  return node.status?.network?.type;
}

export function nodesTable(nodes: readonly EdgeNode[], deployments: readonly EdgeModelDeployment[], wide: boolean, nowMs = Date.now()): string {
  const replicas = replicasByNode(deployments);
  const headers = ['NAME', 'STATUS', 'ACCELERATORS', 'POWER', 'LINK', 'WORKLOADS', 'AGE'];
  if (wide) headers.push('AGENT', 'ARCH', 'BANDWIDTH', 'RTT', 'LAST-HEARTBEAT');
  const rows = [...nodes]
    .sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1))
    .map((n) => {
      const row = [
        n.metadata.name,
        nodeStatus(n),
        n.status?.acceleratorSummary,
        n.status?.powerSummary,
        linkText(n),
        String(replicas.get(n.metadata.name ?? '')?.length ?? 0),
        age(n.metadata.creationTimestamp, nowMs),
      ];
      if (wide) {
        const net = n.status?.network;
        row.push(
          n.status?.agentVersion,
          n.status?.host?.arch,
          net?.bandwidthMbps !== undefined ? `${Number(net.bandwidthMbps.toFixed(1))}Mbps` : undefined,
          ms(net?.rttMs),
          n.status?.lastHeartbeatTime ? `${age(n.status.lastHeartbeatTime, nowMs)} ago` : undefined,
        );
      }
      return row;
    });
  return table(headers, rows);
}

export interface NodeTop {
  name: string;
  status: string;
  /** Busiest accelerator's utilization, 0..1. */
  maxUtilization: number | undefined;
  accelerators: Array<{ id: string; utilization: number; queue: number }>;
  rps: number;
  /** Worst p99 among the node's workloads, ms. */
  p99Ms: number | undefined;
  workloads: number;
  power: string | undefined;
  link: string | undefined;
}

/** `top nodes`: utilisation, rate and p99 from each EdgeNode's status. */
export function topNodes(nodes: readonly EdgeNode[]): NodeTop[] {
  return [...nodes]
    .sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1))
    .map((n) => {
      const util = n.status?.utilization ?? [];
      const workloads = n.status?.workloads ?? [];
      const p99s = workloads.map((w) => w.p99Ms).filter((v): v is number => v !== undefined);
      return {
        name: n.metadata.name ?? '',
        status: nodeStatus(n),
        maxUtilization: util.length > 0 ? Math.max(...util.map((u) => u.utilization)) : undefined,
        accelerators: util.map((u) => ({ id: u.id, utilization: u.utilization, queue: u.queue })),
        rps: Number(workloads.reduce((sum, w) => sum + (w.rps ?? 0), 0).toFixed(1)),
        p99Ms: p99s.length > 0 ? Math.max(...p99s) : undefined,
        workloads: workloads.length,
        power: n.status?.powerSummary,
        link: linkText(n),
      };
    });
}

export function topTable(rows: readonly NodeTop[], wide: boolean): string {
  const headers = ['NAME', 'UTIL', 'RPS', 'P99', 'WORKLOADS', 'POWER', 'LINK'];
  if (wide) headers.push('ACCELERATORS', 'QUEUE');
  return table(
    headers,
    rows.map((r) => {
      const row = [r.name, r.maxUtilization === undefined ? undefined : percent(r.maxUtilization), String(r.rps), ms(r.p99Ms), String(r.workloads), r.power, r.link];
      if (wide) {
        row.push(
          r.accelerators.map((a) => `${a.id}:${percent(a.utilization)}`).join(','),
          String(r.accelerators.reduce((s, a) => s + a.queue, 0)),
        );
      }
      return row;
    }),
  );
}

export interface NodeDescription {
  node: EdgeNode;
  workloads: Array<{ deployment: string; variant: string; accelerator: string; phase: string; rps?: number; p99Ms?: number }>;
  events: Array<{ type: string; reason: string; age: string; from: string; message: string; count: number }>;
}

export function describeNode(node: EdgeNode, deployments: readonly EdgeModelDeployment[], events: readonly CoreV1Event[], nowMs = Date.now()): NodeDescription {
  const name = node.metadata.name ?? '';
  const reported = new Map((node.status?.workloads ?? []).map((w) => [`${w.deployment}@${w.variant}`, w]));
  const workloads = (replicasByNode(deployments).get(name) ?? []).map((p) => {
    const live = reported.get(`${p.deployment}@${p.variant}`);
    return { ...p, ...(live?.rps !== undefined ? { rps: live.rps } : {}), ...(live?.p99Ms !== undefined ? { p99Ms: live.p99Ms } : {}) };
  });
  return {
    node,
    workloads,
    events: events.map((e) => ({
      type: e.type ?? '',
      reason: e.reason ?? '',
      age: age(String(e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp ?? ''), nowMs),
      from: e.reportingComponent || e.source?.component || '',
      message: (e.message ?? '').trim(),
      count: e.count ?? e.series?.count ?? 1,
    })),
  };
}

/** `kubectl describe` layout: a key per line, then indented tables. */
export function describeText(d: NodeDescription): string {
  const n = d.node;
  const s = n.status;
  const lines: string[] = [];
  const kv = (key: string, value: string | undefined) => lines.push(`${`${key}:`.padEnd(18)}${value === undefined || value === '' ? '<none>' : value}`);
  kv('Name', n.metadata.name);
  const labels = Object.entries(n.metadata.labels ?? {}).map(([k, v]) => `${k}=${v}`);
  kv('Labels', labels[0]);
  for (const l of labels.slice(1)) lines.push(`${''.padEnd(18)}${l}`);
  kv('CreationTimestamp', n.metadata.creationTimestamp);
  kv('Unschedulable', String(n.spec?.unschedulable ?? false));
  kv('Status', nodeStatus(n));
  kv('Agent', s?.agentVersion);
  kv('Host', s?.host ? [s.host.arch, s.host.cpuModel, s.host.cores !== undefined ? `${s.host.cores} cores` : undefined, s.host.memoryMiB !== undefined ? `${s.host.memoryMiB} MiB` : undefined].filter(Boolean).join(', ') : undefined);
  kv('Last heartbeat', s?.lastHeartbeatTime);
  lines.push('Conditions:');
  lines.push(indent(table(['Type', 'Status', 'LastTransitionTime', 'Reason', 'Message'], (s?.conditions ?? []).map((c) => [c.type, c.status, c.lastTransitionTime, c.reason, c.message])), 2));
  lines.push('Accelerators:');
  const util = new Map((s?.utilization ?? []).map((u) => [u.id, u]));
  lines.push(
    indent(
      table(
        ['ID', 'Type', 'Vendor', 'Model', 'Memory', 'Precisions', 'TOPS', 'Watts', 'Util'],
        (s?.accelerators ?? []).map((a) => [
          a.id,
          a.type,
          a.vendor,
          a.model,
          `${a.memoryMiB}Mi`,
          a.precisions.join(','),
          PRECISIONS.filter((p) => a.tops[p] !== undefined).map((p) => `${p}:${a.tops[p]}`).join(','),
          a.watts === undefined ? undefined : String(a.watts),
          util.has(a.id) ? percent(util.get(a.id)!.utilization) : undefined,
        ]),
      ),
      2,
    ),
  );
  lines.push('Power:');
  kv('  Source', s?.power?.source);
  if (s?.power?.batteryPercent !== undefined) kv('  Battery', `${Math.round(s.power.batteryPercent)}%${s.power.charging ? ' charging' : ''}`);
  lines.push('Link:');
  kv('  Type', s?.network?.type);
  if (s?.network?.bandwidthMbps !== undefined) kv('  Bandwidth', `${Number(s.network.bandwidthMbps.toFixed(1))} Mbps`);
  if (s?.network?.rttMs !== undefined) kv('  RTT', `${Number(s.network.rttMs.toFixed(1))} ms`);
  if (s?.network?.metered !== undefined) kv('  Metered', String(s.network.metered));
  lines.push(`Workloads:         (${d.workloads.length} in total)`);
  if (d.workloads.length > 0) {
    lines.push(indent(table(['Deployment', 'Variant', 'Accelerator', 'Phase', 'RPS', 'P99'], d.workloads.map((w) => [w.deployment, w.variant, w.accelerator, w.phase, w.rps === undefined ? undefined : String(w.rps), ms(w.p99Ms)])), 2));
  }
  if (d.events.length === 0) {
    kv('Events', undefined);
  } else {
    lines.push('Events:');
    lines.push(indent(table(['Type', 'Reason', 'Age', 'From', 'Message'], d.events.map((e) => [e.type, e.reason, e.count > 1 ? `${e.age} (x${e.count})` : e.age, e.from, e.message])), 2));
  }
  return `${lines.join('\n').replace(/\n+$/, '')}\n`;
}

function indent(text: string, by: number): string {
  return text
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => ' '.repeat(by) + l)
    .join('\n');
}

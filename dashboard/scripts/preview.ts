// A preview of the built dashboard on generated data, without a control plane: the same routes
// as the contract (api/src/dashboard.ts), N nodes over a few sites, a stream that changes a
// few nodes every second. For working on the page and checking it at 5,000 nodes.
//   npx tsx dashboard/scripts/preview.ts [--nodes 5000] [--port 8090]
import { createServer, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { DashboardEvent, DeploymentView, FleetDeployment, FleetNode, NodeDetail, NodeHistory } from '../../api/src/dashboard.ts';
import { dashboardDist } from './assets.ts';

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json' };
const SITES = ['berlin-dc', 'lyon-warehouse', 'porto-yard', 'oslo-port', null];
const LINKS = ['ethernet', 'wifi', 'cellular-5g', 'cellular-4g', 'lora'] as const;

function generate(count: number): FleetNode[] {
  return Array.from({ length: count }, (_, i) => {
    const kind = i % 3;
    const battery = kind === 2;
    return {
      name: kind === 0 ? `jetson-${i}` : kind === 1 ? `x86-${i}` : `pi-handheld-${i}`,
      site: SITES[i % SITES.length] ?? null,
      labels: { 'edgeplane.io/role': 'ocr-gateway' },
      unschedulable: i % 97 === 5,
      ready: i % 41 !== 7,
      reachable: i % 83 !== 3,
      accelerators: kind === 0 ? [{ id: 'gpu0', type: 'GPU', model: 'Orin' }, { id: 'cpu0', type: 'CPU', model: 'Cortex-A78AE' }] : kind === 1 ? [{ id: 'cpu0', type: 'CPU', model: 'Xeon (AVX-512 VNNI)' }] : [{ id: 'cpu0', type: 'CPU', model: 'Cortex-A76' }],
      power: battery ? { source: 'battery', batteryPercent: (i * 37) % 100, charging: i % 5 === 0 } : { source: 'mains', batteryPercent: null, charging: false },
      link: { type: battery ? LINKS[(i % 2) + 2]! : LINKS[i % 2]!, metered: battery, bandwidthMbps: battery ? 20 : 940, rttMs: battery ? 60 : 2 },
      workloads: [{ deployment: 'warehouse/ocr-line', variant: battery ? 'int8' : 'fp32', precision: battery ? ((i * 37) % 100 < 20 ? 'int8' : 'fp16') : kind === 0 ? 'fp32' : 'int8', accelerator: kind === 0 ? 'gpu0' : 'cpu0', phase: 'Ready' }],
      rev: 1,
    } satisfies FleetNode;
  });
}

function deployments(nodes: FleetNode[]): FleetDeployment[] {
  const precisions: Partial<Record<'fp32' | 'fp16' | 'int8', number>> = {};
  for (const n of nodes) for (const w of n.workloads) if (w.precision) precisions[w.precision] = (precisions[w.precision] ?? 0) + 1;
  return [
    { namespace: 'warehouse', name: 'ocr-line', replicas: nodes.length, readyReplicas: nodes.length, unplacedReplicas: 0, phases: { Ready: nodes.length }, precisions, conditions: [], degraded: null, rev: 1 },
    {
      namespace: 'factory', name: 'camera-defect', replicas: 2, readyReplicas: 0, unplacedReplicas: 2, phases: {}, precisions: {}, conditions: [],
      degraded: { reason: 'Unschedulable', message: `0/${nodes.length} nodes are available: ${nodes.length} node(s) didn't match the node selector (edgeplane.io/line=2).` }, rev: 1,
    },
  ];
}

function history(node: FleetNode): NodeHistory {
  const now = Date.now();
  const t = Array.from({ length: 360 }, (_, i) => now - (360 - i) * 10_000);
  const battery = t.map((_, i) => (node.power?.batteryPercent === null ? null : Math.max(5, 90 - i / 4)));
  const precision = battery.map((b) => (b === null ? 'fp32' : b < 20 ? 'int8' : b < 50 ? 'fp16' : 'fp32') as 'fp32' | 'fp16' | 'int8');
  const tierChanges = precision.flatMap((p, i) => (i > 0 && precision[i - 1] !== p ? [{ t: t[i]!, deployment: 'warehouse/ocr-line', from: precision[i - 1]!, to: p }] : []));
  return {
    node: node.name, intervalMs: 10_000, t, batteryPercent: battery, charging: t.map(() => false), reachable: t.map(() => true),
    link: t.map((_, i) => (i < 120 ? 'wifi' : 'cellular-4g')),
    workloads: [{ deployment: 'warehouse/ocr-line', p99Ms: t.map((_, i) => 10 + (i % 7) + (precision[i] === 'fp32' ? 6 : 0)), precision }],
    tierChanges,
  };
}

export async function startPreview(options: { nodes: number; port?: number }): Promise<{ url: string; close(): Promise<void> }> {
  const nodes = new Map(generate(options.nodes).map((n) => [n.name, n]));
  const streams = new Set<ServerResponse>();
  const send = (res: ServerResponse, event: DashboardEvent) => res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
  const json = (res: ServerResponse, body: unknown, status = 200) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    if (path === '/dashboard/api/fleet') return json(res, { atMs: Date.now(), nodes: [...nodes.values()], deployments: deployments([...nodes.values()]) });
    if (parts[2] === 'nodes' && parts[3]) {
      const node = nodes.get(parts[3]);
      if (!node) return json(res, { code: 'NOT_FOUND', message: `no node ${parts[3]}` }, 404);
      if (parts[4] === 'history') return json(res, history(node));
      const detail: NodeDetail = {
        ...node,
        lastSeenMs: Date.now(),
        workloads: node.workloads.map((w) => ({ ...w, p99Ms: 8 + (node.name.length % 20), rps: 3 })),
        accelerators: node.accelerators.map((a) => ({ ...a, memoryMiB: 4096, precisions: ['fp32', 'fp16', 'int8'], tops: {}, utilization: 0.42, queue: 1 })),
        conditions: [],
        events: [{ type: 'Normal', reason: 'TierChanged', message: 'warehouse/ocr-line: fp16 → int8 (battery 18% < 20%)', count: 1, lastMs: Date.now() - 60_000 }],
      };
      return json(res, detail);
    }
    if (parts[2] === 'deployments' && parts[3] && parts[4]) {
      const d = deployments([...nodes.values()]).find((x) => x.namespace === parts[3] && x.name === parts[4]);
      if (!d) return json(res, { code: 'NOT_FOUND', message: 'no deployment' }, 404);
      const placed = [...nodes.values()].filter((n) => n.workloads.some((w) => w.deployment === `${d.namespace}/${d.name}`));
      const view: DeploymentView = {
        ...d, sloP99Ms: 25,
        escalation: d.name === 'ocr-line'
          ? { deployment: 'ocr-line-server', available: true, requests: 48_210, escalated: 3_905, ratio: 0.081, answersChanged: 612, failed: 14, budgetDenied: 230, uplinkBytes: 187_400_000, unavailable: null }
          : null,
        placements: placed.map((n) => ({ node: n.name, accelerator: n.workloads[0]!.accelerator, variant: n.workloads[0]!.variant, precision: n.workloads[0]!.precision ?? 'fp32', phase: 'Ready', p99Ms: 8 + (n.name.length % 20), predictedP99Ms: 12, sloP99Ms: 25, tierReason: n.power?.batteryPercent !== null && (n.power?.batteryPercent ?? 100) < 20 ? 'battery < 20%: capped at int8' : 'best tier within the SLO', reason: null, message: null })),
        unplaced: { count: d.unplacedReplicas, explanation: d.degraded?.message ?? null },
        events: d.degraded ? [{ type: 'Warning', reason: 'FailedPlacement', message: d.degraded.message, count: 12, lastMs: Date.now() - 5000 }] : [],
      };
      return json(res, view);
    }
    if (path === '/dashboard/api/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      streams.add(res);
      req.on('close', () => streams.delete(res));
      return send(res, { type: 'hello', atMs: Date.now(), heartbeatMs: 15_000 });
    }
    if (path === '/') return res.writeHead(302, { location: '/dashboard/' }).end();
    const name = path === '/dashboard/' ? 'index.html' : normalize(path.replace(/^\/dashboard\//, ''));
    try {
      const body = readFileSync(join(dashboardDist, name));
      res.writeHead(200, { 'content-type': TYPES[extname(name)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  // A few nodes change every second: battery drains, tiers follow.
  const all = [...nodes.values()];
  const timer = setInterval(() => {
    for (let k = 0; k < 20; k++) {
      const node = all[Math.floor(Math.random() * all.length)]!;
      if (node.power?.batteryPercent === null || !node.power) continue;
      const pct = Math.max(0, node.power.batteryPercent - 1);
      const next: FleetNode = { ...node, power: { ...node.power, batteryPercent: pct }, workloads: node.workloads.map((w) => ({ ...w, precision: pct < 20 ? 'int8' : w.precision })), rev: node.rev + 1 };
      nodes.set(next.name, next);
      for (const s of streams) send(s, { type: 'node', node: next });
    }
  }, 1000);
  await new Promise<void>((r) => server.listen(options.port ?? 0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/dashboard/`,
    close: async () => {
      clearInterval(timer);
      for (const s of streams) s.end();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

if (process.argv[1]?.endsWith('preview.ts')) {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const preview = await startPreview({ nodes: arg('nodes', 300), port: arg('port', 8090) });
  process.stdout.write(`[dashboard] preview at ${preview.url}\n`);
}

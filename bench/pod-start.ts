// `npm run bench -- pod-start --json`: the control plane's pod, creation to Ready, as the chart
// runs it on the test cluster (env/src/cluster.ts: kubelet, containerd, runc built from their Go
// modules). The release is installed (NATS and Redis as pods, secure defaults), then a Ready
// control-plane pod is deleted and its replacement timed from its creation (first seen by a
// 100 ms poll of the API) to its Ready condition: three times with the chart's readiness probe,
// then three times with a probe every second (the process's own start, without the probe
// period's rounding). Needs root and the product images (`make images`).
import { loadavg } from 'node:os';
import {
  clusterUnsupportedReason,
  importProductImages,
  installRelease,
  kubeRequest,
  missingProductImages,
  startBackends,
  startCluster,
  type ClusterRelease,
  type KubeCluster,
} from '@edgeplane/env';
import { machine, numberFlag, type BenchContext } from './run.ts';

/** The goal for the control plane's pod, creation to Ready, on this kind of machine. */
const GOAL_MS = 10_000;

interface Pod {
  metadata: { name: string; creationTimestamp: string; deletionTimestamp?: string };
  status: {
    conditions?: { type: string; status: string; lastTransitionTime?: string }[];
    containerStatuses?: { state?: { running?: { startedAt: string } } }[];
  };
}

interface Timing {
  pod: string;
  /** First seen by the poll to first seen Ready, ms. */
  readyMs: number;
  /** From the API's timestamps (1 s resolution): creation to the container's start, and to Ready. */
  startedS: number;
  readyS: number;
}

const ready = (p: Pod) => p.status.conditions?.find((c) => c.type === 'Ready' && c.status === 'True');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function pods(cluster: KubeCluster, release: ClusterRelease): Promise<Pod[]> {
  const res = await kubeRequest(cluster, 'GET', `/api/v1/namespaces/${release.namespace}/pods?labelSelector=${encodeURIComponent(release.controlPlaneSelector)}`);
  return (res.body as { items: Pod[] }).items;
}

/** Deletes one Ready control-plane pod and times its replacement from creation to Ready. */
async function replacement(cluster: KubeCluster, release: ClusterRelease): Promise<Timing> {
  const before = await pods(cluster, release);
  const victim = before.find((p) => ready(p) && !p.metadata.deletionTimestamp);
  if (!victim) throw new Error('no Ready control-plane pod to replace');
  const deleted = await kubeRequest(cluster, 'DELETE', `/api/v1/namespaces/${release.namespace}/pods/${victim.metadata.name}`);
  if (deleted.status !== 200) throw new Error(`deleting ${victim.metadata.name}: HTTP ${deleted.status}`);
  const known = new Set(before.map((p) => p.metadata.name));
  let seen: { name: string; at: number } | undefined;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const fresh = (await pods(cluster, release)).find((p) => !known.has(p.metadata.name));
    if (fresh && !seen) seen = { name: fresh.metadata.name, at: Date.now() };
    const readyAt = fresh && ready(fresh);
    if (fresh && readyAt) {
      const created = Date.parse(fresh.metadata.creationTimestamp);
      const started = Date.parse(fresh.status.containerStatuses?.[0]?.state?.running?.startedAt ?? '');
      return { pod: fresh.metadata.name, readyMs: Date.now() - seen!.at, startedS: (started - created) / 1000, readyS: (Date.parse(readyAt.lastTransitionTime ?? '') - created) / 1000 };
    }
    if (Date.now() > deadline) throw new Error(`replacement of ${victim.metadata.name} not Ready within 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export default async function podStart(ctx: BenchContext): Promise<Record<string, unknown>> {
  const runs = numberFlag(ctx.argv, 'runs', 3);
  const missing = clusterUnsupportedReason() ?? (missingProductImages().length ? `${missingProductImages().join(', ')} not in dist/images (make images)` : null);
  if (missing) throw new Error(`pod-start cannot run here: ${missing}`);
  const loadStart = loadavg();
  const cluster = await startCluster({ log: (line) => ctx.log(`[cluster] ${line}`) });
  try {
    const images = importProductImages(cluster);
    const backends = await startBackends(cluster, images);
    const release = await installRelease(cluster, backends, images);
    const measure = async (label: string): Promise<Timing[]> => {
      const out: Timing[] = [];
      for (let i = 0; i < runs; i++) {
        const t = await replacement(cluster, release);
        ctx.log(`[ready] ${label}: ${t.pod} Ready ${t.readyMs} ms after create (API: started +${t.startedS} s, Ready +${t.readyS} s); load ${loadavg()[0]!.toFixed(1)}`);
        out.push(t);
      }
      return out;
    };
    const chartProbe = await measure('chart probe');
    await release.upgrade({ controlPlane: { readinessProbe: { initialDelaySeconds: 0, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 3 } } });
    const everySecond = await measure('1 s probe');
    const startToReadyMs = median(chartProbe.map((t) => t.readyMs));
    return {
      bench: 'pod-start',
      what: 'control-plane pod, creation to Ready, on the single-node test cluster (median of the runs)',
      startToReadyMs,
      startToReadyMsProbeEverySecond: median(everySecond.map((t) => t.readyMs)),
      runs: { chartProbe, everySecond },
      goal: { startToReadyMs: GOAL_MS, met: startToReadyMs <= GOAL_MS },
      machine: machine(),
      loadAvg: { start: loadStart, end: loadavg() },
    };
  } finally {
    await cluster.stop();
  }
}

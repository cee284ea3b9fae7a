// `npm run bench -- dashboard --nodes 5000 --json`: the dashboard's server at fleet scale. A
// simulated fleet (the real control plane as a child process, kube-apiserver, nats-server,
// redis-server) runs a deployment on every node while its timeline changes the fleet: every
// battery gateway drains (3 points a minute) and 1 % of the nodes switch link every 30 s.
// Reported:
//   firstLoadMs      headless Chromium opens the printed address (token included) until the
//                    fleet view shows its rows (env/src/browser.ts measureFirstLoad); absent when
//                    no Chromium, and then only fleetSnapshotFetchMs says anything about loading
//   fleetSnapshotFetchMs, fleetSnapshotBytes  GET /dashboard/api/fleet, as the page's first call
//   sseBytesPerSec   one client's event stream, steady state over --window-s
//   historyRedisMiB  the history's Redis memory at a full hour for every node: each node's list
//                    filled to 360 samples by repeating its latest real sample, MEMORY USAGE summed
//                    over every history key and the names dictionary
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { Redis } from 'ioredis';
import type { Bench } from './run.ts';
import { numberFlag } from './run.ts';
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { EN_PLURAL, GROUP, VERSION, type EdgeNode } from '@edgeplane/api';
import { browserUnavailableReason, createDeployment, measureFirstLoad, ocrDetection, watchDeploymentStatus, type FirstLoad } from '@edgeplane/env';
import { startFleetStack } from '@edgeplane/env/fleet-stack';
import type { Timeline } from '../cli/src/simulate/timeline.ts';
import { buildDashboard } from '../dashboard/scripts/build.ts';
import { HISTORY_KEY_PREFIX, HISTORY_NAMES_KEY, HISTORY_SAMPLES } from '../control-plane/src/dashboard/history-store.ts';
import { processCpuMs } from './servers-cpu.ts';


const load = () => loadavg().map((l) => Math.round(l * 100) / 100);
const MiB = (b: number) => Math.round((b / 2 ** 20) * 100) / 100;

/** The fleet changing: battery gateways drain from the start; 1 % of nodes switch link every 30 s. */
function benchTimeline(nodes: number, minutes: number): Timeline {
  const events: Timeline['events'] = [{ at: 0, nodes: { profile: 'rpi-battery' }, battery: { drainPercentPerMin: 3 } }];
  const flip = Math.max(1, Math.floor(nodes / 100));
  for (let at = 30, i = 0; at < minutes * 60 && events.length < 10_000; at += 30, i++) {
    const link = i % 2 === 0 ? { type: 'cellular-4g' as const, bandwidthMbps: 12, rttMs: 45, metered: true } : { type: 'wifi' as const, bandwidthMbps: 80, rttMs: 8, metered: false };
    events.push({ at, nodes: { profile: 'jetson', count: flip }, link });
  }
  return { events };
}

/**
 * Waits until `want` EdgeNodes of the selector are Ready, from one watch. Listing the whole fleet
 * every 250 ms (5,000 EdgeNodes, each a quorum read of megabytes from etcd, decoded and encoded
 * again by the API server and parsed here) took the API server's CPU from the control plane's
 * status writes, which are what turns the nodes Ready: the fleet settled in minutes, not seconds.
 */
async function waitForFleetReady(kc: KubeConfig, selector: string, want: number, timeoutMs: number, log: (line: string) => void): Promise<{ listed: number; ready: number; ms: number }> {
  const started = Date.now();
  const ready = new Map<string, boolean>();
  const count = () => [...ready.values()].filter(Boolean).length;
  let stopped = false;
  let controller: AbortController | undefined;
  let done: () => void = () => undefined;
  const settled = new Promise<void>((resolve) => (done = resolve));
  const start = async (): Promise<void> => {
    controller = await new Watch(kc).watch(
      `/apis/${GROUP}/${VERSION}/${EN_PLURAL}`,
      { labelSelector: selector },
      (type: string, obj: EdgeNode) => {
        const name = obj.metadata?.name;
        if (!name) return;
        if (type === 'DELETED') ready.delete(name);
        else ready.set(name, obj.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false);
        if (ready.size >= want && count() >= want) done();
      },
      () => {
        // Watches end after a server timeout: start again until done.
        if (!stopped) setTimeout(() => void start().catch(() => undefined), 100);
      },
    );
  };
  await start();
  const progress = setInterval(() => log(`EdgeNodes listed ${ready.size}, Ready ${count()} of ${want}`), 10_000);
  const timer = setTimeout(done, timeoutMs);
  try {
    await settled;
  } finally {
    stopped = true;
    clearInterval(progress);
    clearTimeout(timer);
    controller?.abort();
  }
  return { listed: ready.size, ready: count(), ms: Date.now() - started };
}

/**
 * Waits until the control plane leads (its /metrics `edgeplane_leader 1`): only the leader
 * answers hellos, and a fleet started before that meets "no responders" and backs off, each node
 * up to 30 s a retry, for minutes on a loaded machine.
 */
async function waitLeading(address: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const text = await fetch(`${address}/metrics`).then((r) => (r.ok ? r.text() : ''), () => '');
    if (/^edgeplane_leader 1$/m.test(text)) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`the control plane at ${address} did not lead within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Where the first load's time went, from the same load's Resource Timing and the page's marks (ms on the page's clock). */
function firstLoadSplit(load: FirstLoad): Record<string, number | null> {
  const t = load.timings;
  const fleet = t.resources.find((r) => r.name.endsWith('/api/fleet'));
  const script = t.resources.find((r) => /\/app-[^/]+\.js$/.test(r.name));
  const mark = (name: string) => (t.marks[name] === undefined ? null : Math.round(t.marks[name]!));
  const r = (v: number | undefined) => (v === undefined ? null : Math.round(v));
  return {
    documentEnd: r(t.document.responseEnd),
    scriptEnd: r(script?.responseEnd),
    domContentLoaded: r(t.document.domContentLoaded),
    hello: mark('ep:hello'),
    fleetRequest: r(fleet?.requestStart),
    fleetFirstByte: r(fleet?.responseStart),
    fleetEnd: r(fleet?.responseEnd),
    fleetParsed: mark('ep:fleet-parsed'),
    fleetState: mark('ep:fleet-state'),
    fleetRendered: mark('ep:fleet-rendered'),
    shown: load.firstLoadMs,
    fleetTransferBytes: fleet?.transferSize ?? null,
    fleetEncodedBytes: fleet?.encodedBodySize ?? null,
    fleetDecodedBytes: fleet?.decodedBodySize ?? null,
  };
}

/** Bytes of one event stream over `windowMs`, after `warmupMs`; events counted by name. */
async function streamBytes(url: string, token: string, warmupMs: number, windowMs: number): Promise<{ bytes: number; events: Record<string, number>; dropped: boolean }> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal: abort.signal });
  if (res.status !== 200 || !res.body) throw new Error(`event stream: HTTP ${res.status}`);
  const started = Date.now();
  let bytes = 0;
  let dropped = false;
  const events: Record<string, number> = {};
  const decoder = new TextDecoder();
  const timer = setTimeout(() => abort.abort(), warmupMs + windowMs);
  try {
    for await (const chunk of res.body) {
      const inWindow = Date.now() - started >= warmupMs;
      if (!inWindow) continue;
      bytes += chunk.byteLength;
      for (const m of decoder.decode(chunk, { stream: true }).matchAll(/^event: ([a-z-]+)$/gm)) events[m[1]!] = (events[m[1]!] ?? 0) + 1;
    }
    // The server ended the stream before the window did: it dropped this client.
    dropped = Date.now() - started < warmupMs + windowMs - 100;
  } catch (err) {
    if (!abort.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
  }
  return { bytes, events, dropped };
}

/** Fills every node's history to the full window by repeating its latest sample; returns MEMORY USAGE in bytes. */
async function fullHourHistoryBytes(redisUrl: string): Promise<{ bytes: number; keys: number; samplesBefore: number; usedMemoryDelta: number }> {
  const redis = new Redis(redisUrl);
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${HISTORY_KEY_PREFIX}*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? NaN);
    const before = await usedMemory();
    let samplesBefore = 0;
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      const read = redis.pipeline();
      for (const k of chunk) {
        read.llen(k);
        read.lrangeBuffer(k, -1, -1);
      }
      const got = (await read.exec()) ?? [];
      const write = redis.pipeline();
      chunk.forEach((k, j) => {
        const len = Number(got[2 * j]?.[1] ?? 0);
        const last = (got[2 * j + 1]?.[1] as Buffer[] | undefined)?.[0];
        samplesBefore += len;
        if (last && len < HISTORY_SAMPLES) write.rpush(k, ...Array.from({ length: HISTORY_SAMPLES - len }, () => last));
      });
      await write.exec();
    }
    const after = await usedMemory();
    let bytes = 0;
    for (let i = 0; i < keys.length; i += 500) {
      const p = redis.pipeline();
      for (const k of keys.slice(i, i + 500)) p.call('MEMORY', 'USAGE', k, 'SAMPLES', '0');
      for (const [, v] of (await p.exec()) ?? []) bytes += Number(v ?? 0);
    }
    bytes += Number((await redis.call('MEMORY', 'USAGE', HISTORY_NAMES_KEY, 'SAMPLES', '0')) ?? 0);
    return { bytes, keys: keys.length, samplesBefore, usedMemoryDelta: after - before };
  } finally {
    redis.disconnect();
  }
}

const dashboard: Bench = async ({ argv, log }) => {
  const nodes = numberFlag(argv, 'nodes', 5000);
  const heartbeatMs = numberFlag(argv, 'heartbeat-ms', 5000);
  const windowMs = numberFlag(argv, 'window-s', 60) * 1000;
  const readyTimeoutMs = numberFlag(argv, 'ready-timeout-s', 300) * 1000;
  const settleMs = numberFlag(argv, 'settle-s', 15) * 1000;
  const loadAtStart = load();

  const manifest = await buildDashboard();
  log(`dashboard built (${manifest.hash.slice(0, 12)})`);

  const stackStarted = Date.now();
  const stack = await startFleetStack({
    nodes,
    controlPlane: 'child',
    heartbeatIntervalMs: heartbeatMs,
    // One replica, measured for its dashboard, not its failover: on a loaded machine the API
    // server can answer a Lease renewal after the default 4 s, the replica steps down, and every
    // hello meanwhile meets "no responders" and backs off up to 30 s (hellos took minutes).
    env: { EP_METRICS_AUTH: 'none', EP_LEASE_DURATION_MS: '60000', EP_RENEW_DEADLINE_MS: '40000' },
    // On a busy 2-core machine the last hellos can wait on their retries' back-off for minutes.
    helloTimeoutMs: numberFlag(argv, 'hello-timeout-s', 900) * 1000,
    simulation: { helloConcurrency: 32, helloTimeoutMs: 20_000, timeline: benchTimeline(nodes, 60) },
    log,
    beforeSimulation: async (cp) => log(`control plane leading after ${await waitLeading(cp.address, 120_000)} ms`),
  });
  const helloS = Math.round((Date.now() - stackStarted) / 100) / 10;
  try {
    const address = stack.controlPlane.address;
    const token = stack.kube.token;
    // Nodes turn Ready at the pace of their status writes; the dashboard needs them listed, not Ready.
    const fleetReady = await waitForFleetReady(stack.kc, stack.fleetSelector, nodes, readyTimeoutMs, log);
    const readyNodes = fleetReady.ready;
    log(`${fleetReady.ready}/${nodes} EdgeNodes Ready (${fleetReady.listed} listed) after ${Math.round(fleetReady.ms / 1000)} s`);
    const watch = await watchDeploymentStatus(stack.kc, stack.namespace, 'dash');
    await createDeployment(stack.kc, ocrDetection(stack.namespace, 'dash', nodes, stack.fleetLabels));
    let ready = 0;
    const deployStarted = Date.now();
    // On the nodes that are Ready; the rest of the fleet shows unplaced replicas, as it would.
    const deployWaitMs = readyNodes >= nodes ? readyTimeoutMs : 90_000;
    try {
      await watch.until((s) => {
        ready = s.readyReplicas ?? 0;
        return ready >= readyNodes;
      }, deployWaitMs);
    } catch {
      log(`deployment Ready on ${ready}/${nodes} nodes after ${deployWaitMs / 1000} s; measuring anyway`);
    } finally {
      watch.stop();
    }
    const deployReadyMs = Date.now() - deployStarted;
    log(`deployment Ready on ${ready}/${nodes} nodes after ${Math.round(deployReadyMs / 1000)} s`);

    // The fleet as it runs, not the seconds after 5,000 replicas turned Ready at once (every
    // node changed; the control plane's status writes and the model's rebuilds of every node
    // then delay even the page's static files): one history tick and a half.
    await new Promise((r) => setTimeout(r, settleMs));
    // The page's first call, twice: the first may fill this replica's model.
    // From curl when there is one: this process also runs the simulated fleet, whose work would
    // count in a fetch made here. The header goes on stdin, not in the process list.
    const useCurl = spawnSync('curl', ['--version'], { stdio: 'ignore' }).status === 0;
    const fetchFleet = async (compressed = false) => {
      if (useCurl) {
        // --compressed: Accept-Encoding as browsers send it; size_download is then the compressed bytes.
        const out = spawnSync('curl', ['-sS', ...(compressed ? ['--compressed'] : []), '-o', '/dev/null', '-H', '@-', '-w', '%{http_code} %{time_total} %{size_download}', `${address}/dashboard/api/fleet`], { input: `Authorization: Bearer ${token}\n`, encoding: 'utf8' });
        const [code, seconds, size] = out.stdout.trim().split(' ');
        if (code !== '200') throw new Error(`fleet snapshot: HTTP ${code} ${out.stderr}`);
        return { ms: Math.round(Number(seconds) * 1000), bytes: Number(size) };
      }
      const t0 = performance.now();
      const res = await fetch(`${address}/dashboard/api/fleet`, { headers: { authorization: `Bearer ${token}`, 'accept-encoding': 'identity' } });
      const body = await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`fleet snapshot: HTTP ${res.status}`);
      return { ms: Math.round(performance.now() - t0), bytes: body.byteLength };
    };
    const firstFetch = await fetchFleet();
    const fetches = [await fetchFleet(), await fetchFleet(), await fetchFleet()];
    const fleetSnapshotFetchMs = [...fetches.map((f) => f.ms)].sort((a, b) => a - b)[1]!;
    log(`fleet snapshot: ${firstFetch.bytes} bytes, ${firstFetch.ms} ms first, median of 3 after ${fleetSnapshotFetchMs} ms`);
    const compressedFetches = useCurl ? [await fetchFleet(true), await fetchFleet(true), await fetchFleet(true)].sort((a, b) => a.ms - b.ms) : [];
    const compressed = compressedFetches[1];
    if (compressed) log(`fleet snapshot compressed: ${compressed.bytes} bytes, median of 3 ${compressed.ms} ms`);

    let firstLoad: FirstLoad | null = null;
    const noBrowser = browserUnavailableReason();
    if (noBrowser) log(`no first-load figure: ${noBrowser}`);
    else {
      // Every EdgeNode stored so far: on a loaded machine the last ones can still be being
      // written, and waiting for them would time their writes, not the page.
      firstLoad = await measureFirstLoad(`${address}/dashboard/?token=${encodeURIComponent(token)}`, { expectNodes: fleetReady.listed, timeoutMs: 60_000 });
      log(`first load in Chromium: ${firstLoad.firstLoadMs} ms (${firstLoad.nodes} nodes shown): ${JSON.stringify(firstLoadSplit(firstLoad))}`);
    }

    const loadBeforeStream = load();
    const cpuBefore = processCpuMs(stack.controlPlane.pid);
    const cpuStarted = Date.now();
    const stream = await streamBytes(`${address}/dashboard/api/events`, token, 5000, windowMs);
    const controlPlaneCpuMsPerSec = Math.round(((processCpuMs(stack.controlPlane.pid) - cpuBefore) * 1000) / (Date.now() - cpuStarted));
    const sseBytesPerSec = Math.round(stream.bytes / (windowMs / 1000));
    log(`event stream: ${sseBytesPerSec} B/s over ${windowMs / 1000} s, events ${JSON.stringify(stream.events)}`);

    const history = await fullHourHistoryBytes(stack.redis.url);
    log(`history: ${history.keys} keys (${history.samplesBefore} real samples), ${MiB(history.bytes)} MiB at ${HISTORY_SAMPLES} samples each`);

    return {
      nodes,
      heartbeatMs,
      readyNodes,
      stackAndHellosS: helloS,
      fleetReadyS: Math.round(fleetReady.ms / 100) / 10,
      readyReplicas: ready,
      deploymentReadyS: Math.round(deployReadyMs / 100) / 10,
      settleS: settleMs / 1000,
      ...(firstLoad ? { firstLoadMs: firstLoad.firstLoadMs, firstLoadNodesShown: firstLoad.nodes, firstLoadSplit: firstLoadSplit(firstLoad) } : { firstLoadUnavailable: noBrowser }),
      fleetSnapshotFetchMs,
      fleetSnapshotFirstFetchMs: firstFetch.ms,
      fleetSnapshotBytes: firstFetch.bytes,
      ...(compressed ? { fleetSnapshotCompressedBytes: compressed.bytes, fleetSnapshotCompressedFetchMs: compressed.ms } : {}),
      fleetSnapshotFetchedBy: useCurl ? 'curl' : 'this process (which also runs the simulated fleet)',
      sseBytesPerSec,
      sseWindowS: windowMs / 1000,
      sseEvents: stream.events,
      sseDropped: stream.dropped,
      controlPlaneCpuMsPerSec,
      historyRedisMiB: MiB(history.bytes),
      historyBytesPerNode: Math.round(history.bytes / Math.max(1, history.keys)),
      historyKeys: history.keys,
      historySamplesPerNode: HISTORY_SAMPLES,
      historyRealSamples: history.samplesBefore,
      historyUsedMemoryDeltaMiB: MiB(history.usedMemoryDelta),
      loadAvg: { start: loadAtStart, beforeStream: loadBeforeStream, end: load() },
    };
  } finally {
    await stack.stop();
  }
};

export default dashboard;

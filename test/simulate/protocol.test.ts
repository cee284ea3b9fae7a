// The simulator against a bare nats-server and a hand-written control-plane side: hello and
// reply, delta heartbeats, assignments from KV through the executor phases, and the timeline.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { Heartbeat, Hello, HelloReply, decode, encode, nodeFromSubject, subjects, type Assignment } from '@edgeplane/api';
import { startNats, type NatsServer } from '@edgeplane/env';
import { assignProfiles, nodeName, parseMix, parseTimeline, startSimulation, type Simulation } from '../../cli/src/simulate/index.ts';

const sha = (c: string) => c.repeat(64);

function assignment(node: string, variant: string, digest: string, sizeBytes = 4_000_000): Assignment {
  return {
    v: 1,
    node,
    issuedAtMs: Date.now(),
    workloads: [
      {
        key: 'sim/ocr',
        namespace: 'sim',
        deployment: 'ocr',
        model: 'ppocr-det',
        task: 'text-detection',
        variant: { name: variant, precision: 'int8', profile: 'full', uri: 'nats-obj://ep-models/x', sha256: digest, sizeBytes, memoryMiB: 64 },
        accelerator: 'cpu0',
        maxBatch: 1,
        maxQueueDelayMs: 0,
        latencySloMs: 200,
      },
    ],
  };
}

async function until<T>(what: string, probe: () => T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('simulator protocol against nats-server', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let kv: KV;
  let sim: Simulation;
  const hellos = new Map<string, Hello>();
  const beats = new Map<string, { hb: Heartbeat; bytes: number }[]>();
  let refuseFirst = true;
  const mix = 'jetson:0.25,x86-vnni:0.25,rpi-battery:0.5';
  // The last battery node goes silent; the first ones serve the other cases.
  const silenced = nodeName('sp', assignProfiles(parseMix(mix), 12).lastIndexOf('rpi-battery'));

  beforeAll(async () => {
    nats = await startNats();
    // The hand-written control-plane side, with the control plane's credentials.
    nc = await connect(await nats.connectOptions('control-plane'));
    kv = await new Kvm(nc).create('ep-assignments', { history: 1 });
    nc.subscribe(subjects.allHello, {
      callback: (_err, msg) => {
        const hello = decode(Hello, 'hello', msg.data);
        if (!hello.ok) return;
        // The first hello of the fleet is refused, so the retry path runs.
        const accepted = !refuseFirst;
        refuseFirst = false;
        if (accepted) hellos.set(hello.value.node, hello.value);
        msg.respond(encode(HelloReply, 'hello reply', { v: 1, accepted, ...(accepted ? {} : { reason: 'starting' }), heartbeatIntervalMs: 200, fullEvery: 5 }));
      },
    });
    nc.subscribe(subjects.allStatus, {
      callback: (_err, msg) => {
        const node = nodeFromSubject(msg.subject)!;
        const hb = decode(Heartbeat, 'heartbeat', msg.data);
        if (!hb.ok) throw hb.error;
        const list = beats.get(node) ?? [];
        list.push({ hb: hb.value, bytes: msg.data.length });
        beats.set(node, list);
      },
    });
    await nc.flush();
    const timeline = parseTimeline(
      [
        'events:',
        '  - {at: 0, nodes: {profile: rpi-battery, count: 1}, battery: {percent: 60, drainPercentPerMin: 1200}}',
        `  - {at: 1, nodes: {names: [${silenced}]}, silent: true}`,
        '  - {at: 1, nodes: {profile: jetson, count: 1}, link: {type: cellular-4g, bandwidthMbps: 8}}',
      ].join('\n'),
    );
    // A load tool speaking for twelve nodes over three connections: an administrator's credentials.
    sim = await startSimulation({
      natsUrl: nats.url,
      natsCreds: await nats.credsFile('admin'),
      natsCa: nats.caFile!,
      nodes: 12,
      mix,
      connections: 3,
      namePrefix: 'sp',
      timeline,
      timelineTickMs: 100,
      timing: { timeScale: 0.05 },
    });
  });

  afterAll(async () => {
    await sim?.stop();
    await nc?.close();
    await nats?.stop();
  });

  it('every node says hello with its profile, retrying a refusal', async () => {
    await sim.waitAccepted(15_000);
    expect(hellos.size).toBe(12);
    const jetson = sim.nodes.find((n) => n.profile === 'jetson')!;
    const hello = hellos.get(jetson.name)!;
    expect(hello.accelerators.map((a) => a.type)).toEqual(['CPU', 'GPU', 'NPU']);
    expect(hello.labels['edgeplane.io/profile']).toBe('jetson');
    expect(sim.stats().helloFailures).toBeGreaterThanOrEqual(1);
  });

  it('heartbeats are deltas: full on every fifth, a bare sequence number between', async () => {
    const node = sim.nodes.find((n) => n.profile === 'x86-vnni')!.name;
    const list = await until('six heartbeats', () => ((beats.get(node)?.length ?? 0) >= 6 ? beats.get(node) : null));
    expect(list[0]!.hb.full).toBe(true);
    // An idle delta goes out as its bare seq (`17`, not `{"v":1,"seq":17}`).
    expect(list.slice(1, 5).map((b) => b.bytes)).toEqual(list.slice(1, 5).map((b) => String(b.hb.seq).length));
    expect(list[5]!.hb.full).toBe(true);
  });

  it('an assignment in KV goes Downloading, Loading, Ready in the heartbeats', async () => {
    const node = sim.nodes.find((n) => n.profile === 'rpi-battery')!.name;
    // 40 MB: a download of several heartbeat intervals, so a loaded machine's late timer cannot
    // coalesce Downloading away (the agent reports the phase current when its beat goes out).
    await kv.put(node, JSON.stringify(assignment(node, 'det-int8', sha('a'), 40_000_000)));
    const ready = await until('Ready', () =>
      beats.get(node)?.flatMap((b) => b.hb.workloads ?? []).find((w) => w.phase === 'Ready'),
    );
    const phases = beats.get(node)!.flatMap((b) => b.hb.workloads ?? []).map((w) => w.phase);
    expect(phases).toContain('Downloading');
    expect(phases.indexOf('Downloading')).toBeLessThan(phases.indexOf('Ready'));
    expect(ready.p99Ms).toBeGreaterThan(0);
    expect(sim.assignmentOf(node)?.assignment.workloads[0]?.variant.name).toBe('det-int8');
    const cached = await until('cached artifact reported', () => beats.get(node)?.find((b) => b.hb.cachedArtifacts?.includes(sha('a'))));
    expect(cached).toBeTruthy();
  });

  it('a new variant reaches the agent and observers see the change', async () => {
    const node = sim.nodes.find((n) => n.profile === 'x86-vnni')!.name;
    await kv.put(node, JSON.stringify(assignment(node, 'det-fp16', sha('b'))));
    await until('first', () => sim.phaseOf(node, 'sim/ocr') === 'Ready');
    const seen = new Promise<string>((resolve) => {
      const off = sim.onAssignment((e) => {
        if (e.node !== node) return;
        off();
        resolve(e.assignment.workloads[0]!.variant.name);
      });
    });
    await kv.put(node, JSON.stringify(assignment(node, 'det-int8', sha('c'))));
    expect(await seen).toBe('det-int8');
  });

  it('a malformed assignment is counted and the last good one stays', async () => {
    const node = sim.nodes.find((n) => n.profile === 'jetson')!.name;
    await kv.put(node, JSON.stringify(assignment(node, 'det-int8', sha('d'))));
    await until('good one', () => sim.assignmentOf(node)?.assignment.workloads.length === 1);
    await kv.put(node, '{"v":1,"node":"somebody-else"');
    await until('malformed counted', () => sim.stats().malformedAssignments >= 1);
    expect(sim.assignmentOf(node)?.assignment.workloads[0]?.variant.sha256).toBe(sha('d'));
  });

  it('the timeline drains a battery, switches a link and silences a node', async () => {
    const drained = sim.nodes.find((n) => n.profile === 'rpi-battery')!.name;
    const percent = await until('battery below 50', () => beats.get(drained)?.map((b) => b.hb.power?.batteryPercent).find((p) => p !== undefined && p < 50));
    expect(percent).toBeLessThan(50);
    const relinked = sim.nodes.find((n) => n.profile === 'jetson')!.name;
    await until('link switch', () => beats.get(relinked)?.some((b) => b.hb.network?.type === 'cellular-4g'));
    const silentCount = beats.get(silenced)?.length ?? 0;
    expect(silentCount).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 600));
    expect(beats.get(silenced)?.length).toBe(silentCount);
  });
});

// The agent against a real nats-server: hello retried until the control plane answers,
// heartbeat deltas and full ones, the assignment watched in KV and kept on disk, and a
// restart with nats-server down that serves from disk.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { Heartbeat, decode, stores, subjects, type Assignment } from '@edgeplane/api';
import { startNats, type NatsServer } from '@edgeplane/env';
import { startAgent, type RunningAgent } from '../../agent/src/main.ts';
import { agentConfig, controlPlaneResponder, recordingManager, tempDir, testLogger, until, type RecordingManager } from './helpers.ts';
import { agentNats, type NatsSettings } from '@edgeplane/env';

const NODE = 'edge-session-1';
const assignment = (variant: string, issuedAtMs = Date.now()): Assignment => ({
  v: 1,
  node: NODE,
  issuedAtMs,
  workloads: [
    {
      key: 'vision/ocr',
      namespace: 'vision',
      deployment: 'ocr',
      model: 'ppocr-cls',
      task: 'classification',
      variant: { name: variant, precision: variant === 'int8' ? 'int8' : 'fp32', profile: 'full', uri: `nats-obj://ep-models/cls-${variant}`, sha256: 'c'.repeat(64), sizeBytes: 600_000, memoryMiB: 16 },
      accelerator: 'cpu0',
      maxBatch: 1,
      maxQueueDelayMs: 0,
      latencySloMs: 50,
    },
  ],
});

describe('agent fleet session', () => {
  let nats: NatsServer;
  let cp: NatsConnection;
  let kv: KV;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let agent: RunningAgent | undefined;
  let manager: RecordingManager;
  let access: NatsSettings;
  const heartbeats: Heartbeat[] = [];
  const log = testLogger();

  beforeAll(async () => {
    nats = await startNats();
    dir = await tempDir('ep-agent-session-');
    // The agent has its node credential; the test plays the control plane with its own.
    access = await agentNats(nats, NODE);
    cp = await connect(await nats.connectOptions('control-plane'));
    cp.subscribe(subjects.allStatus, {
      callback: (_err, msg) => {
        const d = decode(Heartbeat, 'heartbeat', msg.data);
        if (d.ok) heartbeats.push(d.value);
      },
    });
  });

  afterAll(async () => {
    await agent?.stop();
    await cp?.close();
    await nats?.stop();
    await dir?.remove();
  });

  it('retries hello until a responder answers, then heartbeats with deltas and full ones', async () => {
    const overrideFile = join(dir.path, 'override.yaml');
    await writeFile(overrideFile, 'labels: { site: depot-7 }\n');
    manager = recordingManager();
    agent = await startAgent(agentConfig({ node: NODE, ...access, stateDir: join(dir.path, 'state'), overrideFile }), {
      log,
      createManager: () => manager,
      session: { helloBackoff: { initialMs: 50, maxMs: 200 } },
    });
    expect(agent.startedFrom).toBe('none');
    const session = await agent.connected();
    // No control plane yet: hello goes unanswered and is retried.
    await until(() => session.stats().helloAttempts >= 3, 'three hello attempts');
    expect(session.stats().hellosAccepted).toBe(0);

    // Then a control plane that refuses twice before it accepts.
    const attemptsBefore = session.stats().helloAttempts;
    const responder = controlPlaneResponder(cp, { heartbeatIntervalMs: 100, fullEvery: 4 }, 2);
    const reply = await session.ready;
    expect(responder.hellos).toHaveLength(3);
    // An attempt counted before the responder existed may reach it (building a hello takes a
    // moment under load), so at least the two after it are new.
    expect(session.stats().helloAttempts).toBeGreaterThanOrEqual(attemptsBefore + 2);
    expect(reply.heartbeatIntervalMs).toBe(100);
    const hello = responder.hellos.at(-1);
    expect(hello?.node).toBe(NODE);
    expect(hello?.labels).toEqual({ site: 'depot-7' });
    expect(hello?.accelerators.map((a) => a.id)).toEqual(['cpu0']);
    expect(hello?.accelerators[0]?.features).toContain('avx512_vnni');

    // The probe at hello measured the link, and the next full heartbeat carries it.
    await until(() => responder.probes.length >= 4, 'link probe requests');
    await until(() => heartbeats.filter((h) => h.full).length >= 3, 'three full heartbeats');
    const fulls = heartbeats.filter((h) => h.full);
    const lastFull = fulls.at(-1)!;
    expect(lastFull.network?.rttMs).toBeGreaterThan(0);
    expect(lastFull.network?.bandwidthMbps).toBeGreaterThan(0);
    expect(lastFull.power).toEqual({ source: 'mains' });
    // Between full ones an idle node sends only the sequence number.
    const fullSeqs = fulls.map((h) => h.seq);
    expect(fullSeqs.slice(1).map((s, i) => s - fullSeqs[i]!)).toEqual(fullSeqs.slice(1).map(() => 4));
    const quiet = heartbeats.filter((h) => !h.full && h.seq > lastFull.seq - 4 && h.seq < lastFull.seq);
    expect(quiet.length).toBe(3);
    for (const h of quiet) expect(Object.keys(h).sort()).toEqual(['seq', 'v']);

    // Power declared at run time goes out in the next heartbeat as a delta.
    await writeFile(overrideFile, 'labels: { site: depot-7 }\npower: { source: battery, batteryPercent: 35, charging: false }\n');
    const delta = await until(() => heartbeats.find((h) => !h.full && h.power?.source === 'battery'), 'battery delta heartbeat');
    expect(delta.power).toEqual({ source: 'battery', batteryPercent: 35, charging: false });
    expect(delta.network).toBeUndefined();
  });

  it('applies the assignment from KV, ignores a malformed one, and keeps the last on disk', async () => {
    const session = agent!.session()!;
    kv = await new Kvm(cp).create(stores.assignments, { history: 1, allow_direct: true });
    await kv.put(NODE, JSON.stringify(assignment('fp32', 1)));
    await until(() => manager.applied.length === 1, 'first assignment applied');
    expect(manager.applied[0]?.workloads[0]?.variant.name).toBe('fp32');

    await kv.put(NODE, '{"v":1,"node":"edge-session-1","workloads":"nope"}');
    await until(() => session.stats().assignments?.malformed === 1, 'malformed assignment counted');
    await kv.put(NODE, JSON.stringify({ ...assignment('int8', 2), node: 'someone-else' }));
    await until(() => session.stats().assignments?.malformed === 2, 'foreign assignment counted');
    expect(manager.applied).toHaveLength(1);

    const rev = await kv.put(NODE, JSON.stringify(assignment('int8', 3)));
    await until(() => manager.applied.length === 2, 'second assignment applied');
    expect(manager.applied[1]?.workloads[0]?.variant.name).toBe('int8');
    const saved = await until(async () => {
      const s = await agent!.store.load();
      return s?.revision === rev ? s : null;
    }, 'assignment saved');
    expect(saved.assignment).toEqual(assignment('int8', 3));
    // The heartbeat reports the workload the manager runs.
    const withWorkload = await until(() => heartbeats.find((h) => h.workloads?.[0]?.variant === 'int8'), 'workload report in a heartbeat');
    expect(withWorkload.workloads?.[0]).toMatchObject({ key: 'vision/ocr', phase: 'Ready' });
  });

  it('restarted with nats-server down, serves the assignment from disk, then resumes', async () => {
    const stateDir = join(dir.path, 'state');
    await agent!.stop();
    expect(manager.closed).toBe(true);
    await nats.pause();

    const restarted = recordingManager();
    agent = await startAgent(agentConfig({ node: NODE, ...access, stateDir }), { log, createManager: () => restarted, session: { helloBackoff: { initialMs: 50, maxMs: 200 } } });
    // Applied before any NATS connection exists.
    expect(agent.startedFrom).toBe('disk');
    expect(agent.session()).toBeNull();
    expect(restarted.applied).toHaveLength(1);
    expect(restarted.applied[0]?.workloads[0]?.variant.name).toBe('int8');
    expect(JSON.parse(await readFile(join(stateDir, 'assignment.json'), 'utf8')).assignment.node).toBe(NODE);

    await nats.restart();
    const cp2 = await connect(await nats.connectOptions('control-plane'));
    try {
      const responder = controlPlaneResponder(cp2, { heartbeatIntervalMs: 100 });
      const session = await agent.connected();
      await session.ready;
      await until(() => session.stats().assignments !== null && session.stats().assignments!.revision > 0, 'assignment read after reconnect', 20_000);
      // Same revision as on disk: not applied twice.
      expect(restarted.applied).toHaveLength(1);
      expect(responder.hellos.at(-1)?.bootId).toBe(agent.bootId);

      const kv2 = await new Kvm(cp2).open(stores.assignments);
      await kv2.put(NODE, JSON.stringify(assignment('fp32', 4)));
      await until(() => restarted.applied.length === 2, 'new assignment after restart');

      // A NATS outage while connected: the session says hello again and reads its key again.
      const accepted = session.stats().hellosAccepted;
      await nats.restart();
      await until(() => session.stats().hellosAccepted > accepted, 'hello again after reconnect', 30_000);
      // JetStream answers a moment after the server does (it recovers its streams first; longer
      // on a busy machine): write once it does, so the write is not lost to a timeout.
      await until(() => kv2.status().then(() => true, () => false), 'the store after the restart', 30_000);
      await kv2.put(NODE, JSON.stringify(assignment('int8', 5)));
      await until(() => restarted.applied.length === 3, 'assignment after reconnect', 20_000);
      responder.stop();
    } finally {
      await cp2.close();
    }
  });
});

describe('agent fleet session against forged hello replies', () => {
  const FORGED = 'edge-forged-1';
  let nats: NatsServer;
  let cp: NatsConnection;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let agent: RunningAgent | undefined;

  beforeAll(async () => {
    nats = await startNats();
    dir = await tempDir('ep-agent-forged-');
    // A forger with every right on the bus (as a stolen control-plane credential would have).
    cp = await connect(await nats.connectOptions('control-plane'));
  });

  afterAll(async () => {
    await agent?.stop();
    await cp?.close();
    await nats?.stop();
    await dir?.remove();
  });

  it('refuses a 1 ms interval, never takes the bucket from a reply, and heartbeats at a valid pace', async () => {
    const beats: number[] = [];
    cp.subscribe(subjects.status(FORGED), {
      callback: () => {
        beats.push(Date.now());
      },
    });
    // A responder that answers every hello with a 1 kHz heartbeat and another bucket.
    const forged = cp.subscribe(subjects.hello(FORGED), {
      callback: (_err, msg) => {
        msg.respond(JSON.stringify({ v: 1, accepted: true, heartbeatIntervalMs: 1, fullEvery: 1, assignmentsBucket: 'forged-assignments' }));
      },
    });
    const manager = recordingManager();
    agent = await startAgent(agentConfig({ node: FORGED, ...(await agentNats(nats, FORGED)), stateDir: join(dir.path, 'state') }), {
      log: testLogger(),
      createManager: () => manager,
      session: { helloBackoff: { initialMs: 50, maxMs: 200 } },
    });
    const session = await agent.connected();
    await until(() => session.stats().helloRepliesRefused >= 3, 'three forged replies refused');
    await cp.flush();
    expect(session.stats().hellosAccepted).toBe(0);
    expect(session.stats().heartbeatIntervalMs).toBeNull();
    expect(beats).toHaveLength(0);
    forged.unsubscribe();

    // A reply within bounds that names another bucket: accepted, its bucket ignored.
    const kvm = new Kvm(cp);
    const configured = await kvm.create(stores.assignments, { history: 1, allow_direct: true });
    const other = await kvm.create('forged-assignments', { history: 1 });
    await other.put(FORGED, JSON.stringify({ ...assignment('int8', 1), node: FORGED }));
    const responder = controlPlaneResponder(cp, { heartbeatIntervalMs: 500, assignmentsBucket: 'forged-assignments' });
    try {
      await session.ready;
      expect(session.stats().heartbeatIntervalMs).toBe(500);
      await until(() => beats.length >= 1, 'first heartbeat');
      const before = beats.length;
      await new Promise((r) => setTimeout(r, 2000));
      // 500 ms apart: about four in two seconds, never hundreds.
      expect(beats.length - before).toBeGreaterThanOrEqual(2);
      expect(beats.length - before).toBeLessThanOrEqual(6);

      await configured.put(FORGED, JSON.stringify({ ...assignment('fp32', 2), node: FORGED }));
      await until(() => manager.applied.length >= 1, 'assignment from the configured bucket');
      expect(manager.applied.map((a) => a.workloads[0]?.variant.name)).toEqual(['fp32']);
    } finally {
      responder.stop();
    }
  });
});

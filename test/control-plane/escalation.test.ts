// Joint inference in the control plane against real servers (shared kube-apiserver, own
// nats-server and redis-server, the control plane in this process with node identity on): a
// big tier on a datacenter node and an edge deployment escalating to it on two gateways. The
// edge workloads' assignments carry the escalation, a renewed node credential carries the
// escalate grant and reaches the tier with it, status sums the counters the nodes report in
// their heartbeats, and EscalationAvailable follows the tier as it is deleted and comes back.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connect, credsAuthenticator, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import {
  Assignment,
  EMD_PLURAL,
  EN_PLURAL,
  ESCALATION_CONDITION,
  Escalation,
  GROUP,
  HelloReply,
  Heartbeat,
  Hello,
  NODE_IDENTITY_ANNOTATIONS,
  PROTOCOL_VERSION,
  RenewReply,
  RenewRequest,
  VERSION,
  createHeartbeatBuilder,
  decode,
  encode,
  stores,
  subjects,
  type EdgeModelDeployment,
  type EscalationCounters,
  type PlacementPhase,
  type WorkloadReport,
} from '@edgeplane/api';
import { inboxPrefix, issueNodeJwt, newUserKey, nodeCreds, readUserJwt, type TrustMaterial } from '@edgeplane/trust';
import { controlPlaneNats, kubeConfig, startNats, startRedis, type NatsServer, type RedisServer } from '@edgeplane/env';
import { waitFor } from '../helpers/agent.ts';
import { applyDeployment, customObjects, detector, ensureNamespace, getDeployment, gpu, metricValue, runId, scrape, testConfig, waitReady } from '../helpers/control-plane.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/index.ts';

const run = runId('cp-esc');
const kube = inject('kube');
const kc = kubeConfig(kube);
const custom = customObjects(kc);
const dir = mkdtempSync(join(tmpdir(), 'ep-esc-'));
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const ESCALATION = { deployment: 'big', rule: { confidenceBelow: 0.6 } };

let nats: NatsServer;
let redis: RedisServer;
let trust: TrustMaterial;
let cp: ControlPlane;
let admin: NatsConnection;
let kv: KV;
const sims: SimNode[] = [];

/** Connects as an enrolled node would: its own key, a node credential, its own inbox prefix. */
async function nodeConnection(node: string, jwt: string, seed: string): Promise<NatsConnection> {
  return connect({
    servers: nats.url,
    tls: { ca: trust.ca.certPem },
    authenticator: credsAuthenticator(new TextEncoder().encode(nodeCreds(jwt, seed))),
    inboxPrefix: inboxPrefix.node(node),
    name: node,
  });
}

/**
 * A node as the control plane sees one: hello, then a full heartbeat each interval reporting
 * every workload its KV entry assigns (Ready unless told otherwise) with the escalation
 * counters the test sets, over a node credential of its own.
 */
class SimNode {
  readonly key = newUserKey();
  readonly phases = new Map<string, PlacementPhase>();
  readonly counters = new Map<string, EscalationCounters>();
  /** As the agent does: counters (zero until set) for every workload whose assignment names a tier. */
  reportEscalation = true;
  readonly #builder = createHeartbeatBuilder(1);
  #nc: NatsConnection | undefined;
  #timer: NodeJS.Timeout | undefined;
  heartbeats = 0;

  readonly name: string;
  readonly labels: Record<string, string>;

  constructor(name: string, labels: Record<string, string>) {
    this.name = name;
    this.labels = labels;
  }

  get nc(): NatsConnection {
    return this.#nc!;
  }

  async start(): Promise<void> {
    const jwt = await issueNodeJwt(trust, { node: this.name, userPublicKey: this.key.publicKey, tags: [], ttlS: 3600 });
    this.#nc = await nodeConnection(this.name, jwt, this.key.seed);
    const hello = encode(Hello, 'hello', {
      v: PROTOCOL_VERSION,
      node: this.name,
      agentVersion: '0.0.0-test',
      bootId: this.key.publicKey.slice(1, 17).toLowerCase(),
      host: { arch: 'x64', cores: 4, memoryMiB: 8192 },
      accelerators: [gpu()],
      power: { source: 'mains' },
      network: { type: 'ethernet' },
      cachedArtifacts: [],
      labels: this.labels,
    });
    const interval = await waitFor(`hello of ${this.name}`, async () => {
      const reply = decode(HelloReply, 'hello reply', (await this.nc.request(subjects.hello(this.name), hello, { timeout: 2000 })).data);
      return reply.ok && reply.value.accepted ? reply.value.heartbeatIntervalMs : undefined;
    });
    this.#timer = setInterval(() => void this.#beat(), interval);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#nc?.close();
  }

  async #beat(): Promise<void> {
    if (!this.#nc || this.#nc.isClosed()) return;
    const entry = await kv.get(this.name).catch(() => null);
    const assignment = entry?.operation === 'PUT' ? decode(Assignment, 'assignment', entry.value) : undefined;
    const workloads: WorkloadReport[] = (assignment?.ok ? assignment.value.workloads : []).map((w) => {
      const escalation = w.escalation && this.reportEscalation ? (this.counters.get(w.key) ?? counters({})) : undefined;
      return { key: w.key, variant: w.variant.name, accelerator: w.accelerator, phase: this.phases.get(w.key) ?? 'Ready', ...(escalation ? { escalation } : {}) };
    });
    const hb = this.#builder.next({ power: { source: 'mains' }, network: { type: 'ethernet' }, load: [], workloads, cachedArtifacts: [] });
    if (this.#nc.isClosed()) return;
    this.#nc.publish(subjects.status(this.name), encode(Heartbeat, 'heartbeat', hb));
    this.heartbeats++;
  }
}

const counters = (over: Partial<EscalationCounters>): EscalationCounters => ({ requests: 0, hard: 0, escalated: 0, answered: 0, changed: 0, failed: 0, budgetDenied: 0, bytesUp: 0, ...over });
const escalationCondition = (emd: EdgeModelDeployment) => emd.status?.conditions?.find((c) => c.type === ESCALATION_CONDITION);

async function deleteDeployment(name: string): Promise<void> {
  await custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: run, plural: EMD_PLURAL, name });
}

async function gone(name: string): Promise<boolean> {
  return getDeployment(kc, run, name).then(
    () => false,
    () => true,
  );
}

const dc = () => sims[0]!;
const gw1 = () => sims[1]!;
const gw2 = () => sims[2]!;
const bigSpec = () => detector(run, 'big', 1, { placement: { selector: { matchLabels: { tier: 'datacenter' } } } });

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  trust = nats.trust!;
  const trustFile = join(dir, 'trust.json');
  writeFileSync(trustFile, JSON.stringify(trust), { mode: 0o600 });
  chmodSync(trustFile, 0o600);
  await ensureNamespace(kc, run);
  cp = await startControlPlane(
    testConfig({
      ...(await controlPlaneNats(nats)),
      redisUrl: redis.url,
      kubeconfigPath: kube.kubeconfigPath,
      run,
      trustFile,
      bootstrapNamespace: run,
      nodeCredentialTtlMs: 3_600_000,
      // No periodic full reconcile inside the test: the tier's changes reach the edge deployment
      // through the escalation index, its counters through the refresh every six heartbeats.
      resyncMs: 600_000,
    }),
  );
  await waitReady(cp.address);
  await waitFor('leadership', () => cp.isLeader());
  admin = await connect(await nats.connectOptions('admin'));
  kv = await new Kvm(admin).open(stores.assignments);
  const label = (tier: string) => ({ 'edgeplane.io/test-run': run, tier });
  sims.push(new SimNode(`${run}-dc-1`, label('datacenter')), new SimNode(`${run}-gw-1`, label('edge')), new SimNode(`${run}-gw-2`, label('edge')));
  await Promise.all(sims.map((s) => s.start()));
  await applyDeployment(kc, bigSpec());
  await applyDeployment(kc, detector(run, 'ocr', 2, { placement: { selector: { matchLabels: { tier: 'edge' } } }, escalation: ESCALATION }));
}, 60_000);

afterAll(async () => {
  for (const s of sims) await s.stop().catch(() => {});
  await admin?.close();
  await cp?.stop();
  // EdgeNodes are cluster-scoped: leave none behind for the other suites.
  for (const s of sims) await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: EN_PLURAL, name: s.name }).catch(() => {});
  await Promise.all([nats?.stop(), redis?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('joint inference in the control plane', () => {
  it("copies spec.escalation into each edge workload's assignment, and only there", async () => {
    const want = Escalation.parse(ESCALATION);
    for (const sim of [gw1(), gw2()]) {
      const w = await waitFor(`ocr assigned to ${sim.name}`, async () => {
        const e = await kv.get(sim.name);
        return e?.operation === 'PUT' ? e.json<Assignment>().workloads.find((x) => x.key === `${run}/ocr`) : undefined;
      });
      expect(w.escalation).toEqual(want);
    }
    const big = await waitFor('big assigned to the datacenter node', async () => (await kv.get(dc().name))?.json<Assignment>().workloads.find((x) => x.key === `${run}/big`));
    expect(big).not.toHaveProperty('escalation');
  }, 30_000);

  it('renews a gateway credential with the escalate grant, which reaches the tier', async () => {
    const sim = gw1();
    // As enrolment records it: the key the node's credential is bound to.
    await custom.patchClusterCustomObject(
      { group: GROUP, version: VERSION, plural: EN_PLURAL, name: sim.name, body: { metadata: { annotations: { [NODE_IDENTITY_ANNOTATIONS.nkey]: sim.key.publicKey } } } },
      merge,
    );
    const jwt = await waitFor('renewal accepted', async () => {
      const msg = await sim.nc.request(subjects.renew(sim.name), encode(RenewRequest, 'renew', { v: 1, node: sim.name, publicKey: sim.key.publicKey }), { timeout: 5000 });
      const reply = decode(RenewReply, 'renew reply', msg.data);
      return reply.ok && reply.value.accepted ? reply.value.jwt : undefined;
    });
    expect(readUserJwt(jwt)?.tags).toEqual([`escalate:${run}.big`, `serve:${run}.ocr`]);
    // With it, the gateway sends a hard input to the tier's inference subject and gets the answer.
    const tier = admin.subscribe(subjects.infer(run, 'big'), { callback: (_e: Error | null, m: Msg) => void m.respond(`big: ${m.string()}`) });
    await admin.flush();
    const renewed = await nodeConnection(sim.name, jwt, sim.key.seed);
    try {
      expect((await renewed.request(subjects.infer(run, 'big'), 'hard', { timeout: 3000 })).string()).toBe('big: hard');
    } finally {
      tier.unsubscribe();
      await renewed.close();
    }
  }, 30_000);

  it('sums the counters the gateways report into status.escalation, with the tier available', async () => {
    gw1().counters.set(`${run}/ocr`, counters({ requests: 100, hard: 30, escalated: 20, answered: 18, changed: 4, failed: 2, budgetDenied: 10, bytesUp: 40_000 }));
    gw2().counters.set(`${run}/ocr`, counters({ requests: 60, hard: 5, escalated: 4, answered: 4, changed: 1, bytesUp: 8_000 }));
    const emd = await waitFor(
      'counters in status',
      async () => {
        const d = await getDeployment(kc, run, 'ocr');
        return d.status?.escalation?.requests === 160 && escalationCondition(d)?.status === 'True' ? d : undefined;
      },
      20_000,
      200,
    );
    expect(emd.status?.escalation).toEqual({ deployment: 'big', available: true, requests: 160, escalated: 24, ratio: 0.15, answersChanged: 5, failed: 2, budgetDenied: 10, uplinkBytes: 48_000 });
    expect(escalationCondition(emd)).toMatchObject({ reason: 'TierReady' });
    expect(escalationCondition(emd)?.message).toContain('big');
    // The tier itself escalates nowhere: no such status or condition.
    const big = await getDeployment(kc, run, 'big');
    expect(big.status?.escalation).toBeUndefined();
    expect(escalationCondition(big)).toBeUndefined();
  }, 30_000);

  it('writes counters at the reconcile pace, not once per heartbeat', async () => {
    const writes = async () => metricValue(await scrape(cp.address), 'edgeplane_kube_writes_total', { resource: 'edgemodeldeployments/status' });
    const before = { writes: await writes(), beats: gw1().heartbeats + gw2().heartbeats };
    // Counters growing with every heartbeat for 3 s.
    const grow = setInterval(() => {
      for (const sim of [gw1(), gw2()]) {
        const c = sim.counters.get(`${run}/ocr`)!;
        sim.counters.set(`${run}/ocr`, { ...c, requests: c.requests + 10, escalated: c.escalated + 1, bytesUp: c.bytesUp + 2000 });
      }
    }, 200);
    await new Promise((r) => setTimeout(r, 3000));
    clearInterval(grow);
    const beats = gw1().heartbeats + gw2().heartbeats - before.beats;
    const written = (await writes()) - before.writes;
    expect(beats).toBeGreaterThanOrEqual(20);
    // One per six heartbeats (1.2 s here) at most, with a little slack for timing.
    expect(written).toBeLessThanOrEqual(4);
    const emd = await waitFor('newer counters in status', async () => {
      const d = await getDeployment(kc, run, 'ocr');
      return (d.status?.escalation?.requests ?? 0) > 160 ? d : undefined;
    });
    expect(emd.status?.escalation?.uplinkBytes).toBeGreaterThan(48_000);
  }, 30_000);

  it('says the tier is not found once it is deleted, not ready while it loads, and ready again', async () => {
    // Nodes that report no counters leave nothing to refresh: from here on only the tier's own
    // changes, through the escalation index, can reconcile the edge deployment again.
    gw1().reportEscalation = false;
    gw2().reportEscalation = false;
    await waitFor('counters gone from status', async () => (await getDeployment(kc, run, 'ocr')).status?.escalation?.requests === 0);
    await new Promise((r) => setTimeout(r, 1500));
    await deleteDeployment('big');
    const notFound = await waitFor('TierNotFound', async () => {
      const d = await getDeployment(kc, run, 'ocr');
      return escalationCondition(d)?.reason === 'TierNotFound' ? d : undefined;
    });
    expect(escalationCondition(notFound)).toMatchObject({ status: 'False' });
    expect(escalationCondition(notFound)?.message).toContain('big');
    expect(notFound.status?.escalation?.available).toBe(false);
    await waitFor('big gone', () => gone('big'));

    // Back, but its replica still downloading: there, yet unable to answer.
    dc().phases.set(`${run}/big`, 'Downloading');
    await applyDeployment(kc, bigSpec());
    const notReady = await waitFor('TierNotReady', async () => {
      const d = await getDeployment(kc, run, 'ocr');
      return escalationCondition(d)?.reason === 'TierNotReady' ? d : undefined;
    });
    expect(escalationCondition(notReady)).toMatchObject({ status: 'False' });
    expect(notReady.status?.escalation?.available).toBe(false);

    dc().phases.delete(`${run}/big`);
    const ready = await waitFor('TierReady', async () => {
      const d = await getDeployment(kc, run, 'ocr');
      return escalationCondition(d)?.reason === 'TierReady' ? d : undefined;
    });
    expect(escalationCondition(ready)).toMatchObject({ status: 'True' });
    expect(ready.status?.escalation?.available).toBe(true);
  }, 60_000);
});

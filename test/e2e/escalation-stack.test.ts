// Joint inference on the `make up` stack: the real control plane places a big tier (the PP-OCR
// direction classifier at fp32) on the datacenter node and an edge deployment (int8, static
// quantization) on the two other gateways, escalating to it; three real agents enrolled with a
// bootstrap token hold only the credentials the control plane signed. Nothing here grants the
// edge nodes the right to reach the big tier: if a hard input comes back escalated, the control
// plane issued the `escalate:` grant. Then status sums the counters, and deleting the big tier
// flips EscalationAvailable and makes hard inputs come back from the edge, marked, in time.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { type NatsConnection } from '@nats-io/transport-node';
import { EMD_PLURAL, ESCALATION_CONDITION, GROUP, VERSION, type EdgeModelDeployment } from '@edgeplane/api';
import { applyDeployment, kubeConfig } from '@edgeplane/env';
import { demoAgents } from '../../scripts/up/agents.ts';
import { connect, ocrDeployment, publishOcrVariants, waitReady } from '../../scripts/up/demo.ts';
import { startStack, type Stack } from '../../scripts/up/stack.ts';
import { waitFor } from '../helpers/agent.ts';
import { EASY, HARD, SHAPE, THRESHOLD, edgeScorer, expectMarkedFallbacks, inferOver, type EdgeScorer, type Reply } from './escalation-inputs.ts';

const NS = 'joint';
const EDGE = 'ocr-lite';
const BIG = 'ocr-full';
/** The datacenter node (site dc, mains, ethernet): where the big tier must go. */
const BIG_NODE = 'xeon-dc-1';
/** The gateways outside the datacenter: the edge tier's nodes. */
const EDGE_NODES = ['jetson-line-1', 'pi-handheld-1'];
const DEADLINE_MS = 3000;

let stack: Stack;
let client: NatsConnection;
let custom: CustomObjectsApi;
let scorer: EdgeScorer;
/** Requests to the edge deployment that its model answered (200), over NATS and REST. */
let sentToEdge = 0;

async function infer(deployment: string, x: Float32Array, deadlineMs = DEADLINE_MS): Promise<Reply> {
  const r = await inferOver(client, NS, deployment, x, deadlineMs);
  if (deployment === EDGE && r.status === '200') sentToEdge++;
  return r;
}

/** The edge deployment through one gateway's own KServe v2 endpoint: that node answers. */
async function inferOn(node: string, x: Float32Array): Promise<{ tier: string | null; parameters?: Record<string, string> | undefined }> {
  const agent = stack.agents.find((a) => a.spec.node === node)!;
  const res = await fetch(`${agent.http}/v2/models/${EDGE}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'ep-deadline-ms': String(DEADLINE_MS) },
    body: JSON.stringify({ inputs: [{ name: 'x', shape: SHAPE, datatype: 'FP32', data: Array.from(x) }] }),
  });
  expect(res.status).toBe(200);
  sentToEdge++;
  const body = (await res.json()) as { parameters?: Record<string, string> };
  return { tier: res.headers.get('ep-tier'), parameters: body.parameters };
}

async function getDeployment(name: string): Promise<EdgeModelDeployment> {
  return (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NS, plural: EMD_PLURAL, name })) as EdgeModelDeployment;
}

const tail = (file: string, n: number) => readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n');

function showLogsOnFailure(): void {
  onTestFailed(() => {
    for (const a of stack.agents) console.log(`--- ${a.spec.node}\n${tail(a.logFile, 30)}`);
    console.log(`--- control plane\n${tail(join(stack.workDir, 'control-plane.log'), 40)}`);
  });
}

beforeAll(async () => {
  const started = Date.now();
  // Heartbeats every 500 ms: status.escalation is refreshed every sixth, so every 3 s here.
  stack = await startStack({ agents: demoAgents, log: () => {}, heartbeatIntervalMs: 500 });
  const kc = kubeConfig(stack.kube);
  custom = kc.makeApiClient(CustomObjectsApi);
  // The classifier's variants as `make up` pushes and signs them; both tiers take theirs from it.
  const ocr = ocrDeployment(await publishOcrVariants(stack.nats, () => {}));
  const variant = (name: string) => ocr.spec.model.variants.find((v) => v.name === name)!;
  // Neither tier changes variant with battery or link: the OCR line's tiering is left out.
  const { tiering: _tiering, ...common } = ocr.spec;
  const manifest = (name: string, spec: Omit<EdgeModelDeployment['spec'], 'tiering'>) => ({ apiVersion: ocr.apiVersion, kind: ocr.kind, metadata: { name, namespace: NS }, spec });

  // The big tier: fp32, one replica, on the datacenter site only.
  const big = manifest(BIG, { ...common, replicas: 1, model: { ...ocr.spec.model, variants: [variant('fp32')] }, placement: { selector: { matchLabels: { 'topology.edgeplane.io/site': 'dc' } }, maxPerNode: 1 } });
  // The edge tier: int8 on the gateways outside the datacenter, hard inputs to the big tier.
  const edge = manifest(EDGE, {
    ...common,
    replicas: EDGE_NODES.length,
    model: { ...ocr.spec.model, variants: [variant('int8-static')] },
    placement: {
      selector: {
        matchLabels: { 'edgeplane.io/role': 'ocr-gateway' },
        matchExpressions: [{ key: 'topology.edgeplane.io/site', operator: 'NotIn', values: ['dc'] }],
      },
      maxPerNode: 1,
    },
    escalation: {
      deployment: BIG,
      rule: { confidenceBelow: THRESHOLD },
      // The handheld is on metered 4G: a tenth of this, still far above what the test sends.
      budget: { requestsPerSecond: 50, bytesPerSecond: 16 * 2 ** 20, meteredFactor: 0.1 },
      waitForAnswer: true,
    },
  });
  await applyDeployment(kc, big);
  await applyDeployment(kc, edge);
  client = await connect({ ...(await stack.nats.connectOptions('client')), name: 'escalation-stack-client' });
  scorer = await edgeScorer();
  console.log(`stack up and both deployments applied in ${Date.now() - started} ms`);
}, 180_000);

afterAll(async () => {
  await client?.close();
  await scorer?.release();
  await stack?.stop();
}, 60_000);

describe('joint inference on the make-up stack (real control plane, three real agents)', () => {
  it('the inputs are what the test says: the edge model is unsure of the hard one, sure of the easy one', async () => {
    expect((await scorer.score(HARD)).confidence).toBeLessThan(THRESHOLD);
    expect((await scorer.score(EASY)).confidence).toBeGreaterThan(THRESHOLD);
  });

  it('both deployments become Ready, the big tier on the datacenter node, the edge tier on the two other gateways', async () => {
    showLogsOnFailure();
    // Invariant: the control plane places the big tier like any deployment, by its selector:
    // only the datacenter node qualifies; the edge tier takes the gateways outside it.
    const big = await waitReady(stack.api, NS, BIG, 90_000);
    expect(big.placements.map((p) => p.node)).toEqual([BIG_NODE]);
    const edge = await waitReady(stack.api, NS, EDGE, 90_000);
    expect(edge.placements.map((p) => p.node).sort()).toEqual(EDGE_NODES);
  }, 120_000);

  it("a hard input is answered by the big tier's node through the grant the control plane issued; an easy one at the edge", async () => {
    showLogsOnFailure();
    // Invariant: an edge node can publish to the big tier's subject only if the control plane
    // signed `escalate:joint.ocr-full` into its credential; without it the hard input comes back
    // from the edge marked unavailable. The renewal carrying the grant may land just after
    // Ready, so the first escalated answer is awaited, bounded.
    const asked = Date.now();
    let attempts = 0;
    const first = await waitFor('a hard input answered by the big tier', async () => {
      attempts++;
      const r = await infer(EDGE, HARD);
      return r.tier === 'escalated' ? r : undefined;
    }, 20_000, 300);
    console.log(`first hard input escalated after ${attempts} attempt(s), ${Date.now() - asked} ms after both tiers were Ready`);
    expect(first).toMatchObject({ status: '200', tier: 'escalated', escalation: 'answered', node: BIG_NODE });
    // From then on, every hard input is escalated, whichever gateway the queue group picks.
    for (let i = 0; i < 4; i++) {
      expect(await infer(EDGE, HARD)).toMatchObject({ status: '200', tier: 'escalated', escalation: 'answered', node: BIG_NODE });
    }
    // Both gateways hold the grant: each one's own endpoint escalates the hard input.
    for (const node of EDGE_NODES) {
      expect(await inferOn(node, HARD)).toEqual({ tier: 'escalated', parameters: { 'ep-tier': 'escalated', 'ep-escalation': 'answered', 'ep-node': BIG_NODE } });
    }
    // The answer is the big tier's own, asked directly.
    const direct = await infer(BIG, HARD);
    expect(direct.node).toBe(BIG_NODE);
    first.probs.forEach((p, i) => expect(p).toBeCloseTo(direct.probs[i]!, 5));

    // Invariant: a confident edge answer never leaves the node.
    const easy = await infer(EDGE, EASY);
    expect(easy).toMatchObject({ status: '200', tier: 'edge', escalation: 'none' });
    expect(EDGE_NODES).toContain(easy.node);
    const own = await scorer.score(EASY);
    easy.probs.forEach((p, i) => expect(p).toBeCloseTo(own.probs[i]!, 4));
  }, 60_000);

  it("the edge deployment's status sums the nodes' escalation counters and says the tier is available", async () => {
    showLogsOnFailure();
    // Invariant: status.escalation is the sum of the nodes' cumulative counters, so once a
    // refresh follows the last request it counts at least every request the test sent to the
    // edge tier, at least one escalation and the bytes that went up; EscalationAvailable is
    // True while the tier has a Ready replica.
    const sent = sentToEdge;
    const status = await waitFor('status.escalation counting every request sent', async () => {
      const s = (await getDeployment(EDGE)).status;
      return s?.escalation && s.escalation.requests >= sent ? s : undefined;
    }, 20_000, 250);
    const e = status.escalation!;
    expect(e.deployment).toBe(BIG);
    expect(e.available).toBe(true);
    expect(e.escalated).toBeGreaterThanOrEqual(1);
    expect(e.uplinkBytes).toBeGreaterThan(0);
    expect(e.uplinkBytes % HARD.byteLength).toBe(0);
    expect(status.conditions?.find((c) => c.type === ESCALATION_CONDITION)).toMatchObject({ status: 'True', reason: 'TierReady' });
  }, 30_000);

  it('deleting the big tier: EscalationAvailable False (TierNotFound), hard inputs get the edge answer back, marked, within their deadline', async () => {
    showLogsOnFailure();
    await custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NS, plural: EMD_PLURAL, name: BIG });
    // Invariant: the condition names why hard inputs stay at the edge once the tier is gone.
    const condition = await waitFor('EscalationAvailable False', async () => {
      const c = (await getDeployment(EDGE)).status?.conditions?.find((x) => x.type === ESCALATION_CONDITION);
      return c?.status === 'False' ? c : undefined;
    }, 20_000, 250);
    expect(condition.reason).toBe('TierNotFound');

    // Invariant: every reply arrives within the request's deadline and says which tier
    // answered; once the big tier's node has stopped serving, the answer is the edge model's
    // own, marked unavailable or timeout, never an error and never late.
    const deadlineMs = 1500;
    const edge = await scorer.score(HARD);
    const replies: Reply[] = [];
    let fallbacks = 0;
    const started = Date.now();
    while (fallbacks < 3 && Date.now() - started < 20_000) {
      const r = await infer(EDGE, HARD, deadlineMs);
      replies.push(r);
      if (r.tier === 'edge') fallbacks++;
    }
    expect(fallbacks).toBe(3);
    // An escalated reply only while the deleted tier's replica is still being unloaded.
    expectMarkedFallbacks(replies, { deadlineMs, bigNode: BIG_NODE, edgeNodes: EDGE_NODES, edgeProbs: edge.probs });
    expect(replies.at(-1)!.tier).toBe('edge');
    console.log(`after the delete: ${replies.map((r) => `${r.tier}/${r.escalation} ${Math.round(r.ms)}ms`).join(', ')}`);
  }, 60_000);
});

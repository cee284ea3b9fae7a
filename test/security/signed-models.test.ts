// Signed models, end to end on a real nats-server with JWT auth and TLS: an operator makes a
// key pair and signs the PP-OCR classifier with `edgeplane model keygen` and `sign`; a real
// agent that requires signatures, connected with its own node credential, is assigned an
// unsigned variant, a tampered one (another model under the genuine signature) and the signed
// one. The first two are never loaded (no session, nothing serving) and the node reports why,
// in the form the control plane copies into the placement's reason; the signed one serves.
// A cached artifact is verified again when another assignment reuses it.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import { Heartbeat, decode, inferHeaders, subjects, type Assignment, type AssignedVariant, type WorkloadAssignment, type WorkloadReport } from '@edgeplane/api';
import { startNats, type NatsServer } from '@edgeplane/env';
import { serveTag } from '@edgeplane/trust';
import { main as edgeplane } from '../../cli/src/main.ts';
import { startAgent, type RunningAgent } from '../../agent/src/main.ts';
import { createWorkloadManager, type WorkloadManagerImpl } from '../../agent/src/workloads/manager.ts';
import type { WorkloadEvent } from '../../agent/src/workloads/workload.ts';
import { PPOCR_CLS, ppocrClassifier } from '../../agent/src/runtime/fixtures/ppocr.ts';
import { tinyModel } from '../../agent/src/runtime/fixtures/tiny-models.ts';
import { CPU, assignment as assignmentOf, workload } from '../../agent/src/workloads/fixtures/assignments.ts';
import { placementStatus } from '../../control-plane/src/reconcile/status.ts';
import { agentConfig, controlPlaneResponder, tempDir, testLogger, until, type Responder } from '../agent/helpers.ts';

const NODE = 'gw-signed';
const NS = 'vision';
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await edgeplane(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe('signed models on a node that requires them', () => {
  let nats: NatsServer;
  let admin: NatsConnection;
  let client: NatsConnection;
  let kv: KV;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let responder: Responder;
  let agent: RunningAgent | undefined;
  let manager: WorkloadManagerImpl | undefined;
  const events: WorkloadEvent[] = [];
  /** The latest report of each workload, as heartbeats carry them to the control plane. */
  const reports = new Map<string, WorkloadReport>();
  let cachedArtifacts: string[] = [];

  const genuine = ppocrClassifier();
  // A different, perfectly loadable model: what an attacker who can write the model store and
  // the variant's digest, but not sign, would put in the classifier's place.
  const replacement = tinyModel({ precision: 'fp32', tag: 'replacement' }).bytes;
  const unsignedModel = tinyModel({ precision: 'fp32', tag: 'unsigned' }).bytes;
  let signature = '';
  let strangerSignature = '';

  const variant = (name: string, bytes: Uint8Array, object: string, sig?: string): AssignedVariant => ({
    name,
    precision: 'fp32',
    profile: 'full',
    uri: `nats-obj://ep-models/${object}`,
    sha256: sha(bytes),
    sizeBytes: bytes.byteLength,
    memoryMiB: 16,
    ...(sig ? { signature: sig } : {}),
  });
  const work = (deployment: string, v: AssignedVariant): WorkloadAssignment => ({
    key: `${NS}/${deployment}`,
    namespace: NS,
    deployment,
    model: 'ppocr-cls',
    task: 'text-direction-classification',
    variant: v,
    accelerator: 'cpu0',
    maxBatch: 1,
    maxQueueDelayMs: 0,
    latencySloMs: 200,
  });
  const assign = async (workloads: WorkloadAssignment[]) => {
    const doc: Assignment = { v: 1, node: NODE, workloads, issuedAtMs: Date.now() };
    await kv.put(NODE, JSON.stringify(doc));
  };
  const inferRequest = (deployment: string) => {
    const h = headers();
    h.set(inferHeaders.tensors, JSON.stringify([{ name: PPOCR_CLS.input, datatype: 'FP32', shape: [1, ...PPOCR_CLS.shape] }]));
    return client.request(subjects.infer(NS, deployment), new Uint8Array(4 * 3 * 48 * 192), { headers: h, timeout: 5000 });
  };

  beforeAll(async () => {
    dir = await tempDir('ep-signed-');
    // The operator's side: a key pair in cosign's format, and a signature of the genuine model.
    process.env.COSIGN_PASSWORD = 'fleet-signing';
    expect((await cli('model', 'keygen', '--out', join(dir.path, 'keys'))).code).toBe(0);
    expect((await cli('model', 'keygen', '--out', join(dir.path, 'stranger'))).code).toBe(0);
    writeFileSync(join(dir.path, 'cls.onnx'), genuine);
    const signed = await cli('model', 'sign', '--key', join(dir.path, 'keys', 'cosign.key'), join(dir.path, 'cls.onnx'));
    expect(signed.code).toBe(0);
    signature = signed.out.trim();
    strangerSignature = (await cli('model', 'sign', '--key', join(dir.path, 'stranger', 'cosign.key'), join(dir.path, 'cls.onnx'))).out.trim();
    delete process.env.COSIGN_PASSWORD;

    nats = await startNats();
    admin = await connect({ ...(await nats.connectOptions('admin')), name: 'signed-models-admin' });
    client = await connect({ ...(await nats.connectOptions('client')), name: 'signed-models-client' });
    kv = await new Kvm(admin).create('ep-assignments', { history: 1, allow_direct: true });
    const os = await new Objm(admin).create('ep-models', { storage: 'file' });
    await os.putBlob({ name: 'cls/signed.onnx', options: { max_chunk_size: 64 * 1024 } }, genuine);
    await os.putBlob({ name: 'cls/tampered.onnx' }, replacement);
    await os.putBlob({ name: 'cls/unsigned.onnx' }, unsignedModel);
    responder = controlPlaneResponder(admin);
    admin.subscribe(subjects.status(NODE), {
      callback: (_err, msg) => {
        const d = decode(Heartbeat, 'heartbeat', msg.data);
        if (!d.ok) return;
        for (const w of d.value.workloads ?? []) reports.set(w.key, w);
        if (d.value.cachedArtifacts) cachedArtifacts = d.value.cachedArtifacts;
      },
    });
    await admin.flush();

    const stateDir = join(dir.path, 'state');
    const config = agentConfig({
      node: NODE,
      natsUrl: nats.url,
      natsCreds: await nats.credsFile({ node: NODE, tags: ['signed', 'unsigned', 'tampered', 'reused'].map((d) => serveTag(NS, d)) }),
      ...(nats.caFile ? { natsCa: nats.caFile } : {}),
      stateDir,
      trust: { requireSignature: true, publicKeys: [join(dir.path, 'keys', 'cosign.pub')] },
    });
    agent = await startAgent(config, {
      log: testLogger(),
      createManager: async (options) => (manager = await createWorkloadManager({ ...options, onEvent: (e) => events.push(e) })),
      onNatsConnected: (nc) => manager?.attachNats(nc),
      session: { helloBackoff: { initialMs: 50, maxMs: 200 } },
    });
    await agent.connected();
    await until(() => responder.hellos.length > 0, 'hello');
  });

  afterAll(async () => {
    await agent?.stop();
    responder?.stop();
    await client?.close();
    await admin?.close();
    await nats?.stop();
    await dir?.remove();
  });

  it('never loads an unsigned or a tampered artifact, reports why, and serves the signed one', async () => {
    await assign([
      work('unsigned', variant('fp32', unsignedModel, 'cls/unsigned.onnx')),
      work('tampered', variant('fp32', replacement, 'cls/tampered.onnx', signature)),
      work('signed', variant('fp32', genuine, 'cls/signed.onnx', signature)),
    ]);
    await until(() => reports.get(`${NS}/signed`)?.phase === 'Ready' && reports.get(`${NS}/tampered`)?.phase === 'Failed' && reports.get(`${NS}/unsigned`)?.phase === 'Failed', 'every workload settled', 30_000);

    expect(reports.get(`${NS}/unsigned`)).toMatchObject({ phase: 'Failed', reason: 'SignatureMissing', message: expect.stringMatching(/variant fp32 is not signed and this node loads only signed models/) });
    expect(reports.get(`${NS}/tampered`)).toMatchObject({ phase: 'Failed', reason: 'SignatureInvalid', message: expect.stringMatching(/signature of variant fp32 does not verify with the trusted public key/) });
    expect(reports.get(`${NS}/signed`)).toMatchObject({ phase: 'Ready' });
    expect(reports.get(`${NS}/signed`)).not.toHaveProperty('reason');

    // No session for the refused two: not ready, never announced as loaded, not serving.
    for (const key of [`${NS}/unsigned`, `${NS}/tampered`]) {
      expect(manager!.model(key)?.ready).toBe(false);
      expect(events.filter((e) => e.key === key && (e.reason === 'Loaded' || e.reason === 'VariantSwitched'))).toEqual([]);
    }
    expect(events.filter((e) => e.reason === 'Loaded').map((e) => e.key)).toEqual([`${NS}/signed`]);
    await expect(inferRequest('tampered')).rejects.toThrow(/no responders/i);
    await expect(inferRequest('unsigned')).rejects.toThrow(/no responders/i);
    // An unsigned variant is refused before it is fetched.
    expect(cachedArtifacts).not.toContain(sha(unsignedModel));

    // The signed classifier answers through the node's own credential.
    const reply = await inferRequest('signed');
    expect(reply.headers?.get(inferHeaders.status)).toBe('200');
    expect(JSON.parse(reply.headers?.get(inferHeaders.tensors) ?? '[]')).toEqual([{ name: expect.any(String), datatype: 'FP32', shape: [1, PPOCR_CLS.classes] }]);

    // What the control plane writes into the placement: the reason code and the sentence.
    const status = placementStatus(
      { deployment: `${NS}/tampered`, node: NODE, accelerator: 'cpu0', variant: 'fp32', precision: 'fp32', profile: 'full', cap: 'fp32', predictedP99Ms: 5, tierReason: '' },
      [...reports.values()],
    );
    expect(status).toMatchObject({ phase: 'Failed', reason: 'SignatureInvalid', message: expect.stringMatching(/does not verify/) });
  });

  it('verifies a cached artifact again when another assignment reuses it with a signature no trusted key made', async () => {
    expect(cachedArtifacts).toContain(sha(genuine));
    await assign([
      work('signed', variant('fp32', genuine, 'cls/signed.onnx', signature)),
      work('reused', variant('fp32', genuine, 'cls/signed.onnx', strangerSignature)),
    ]);
    await until(() => reports.get(`${NS}/reused`)?.phase === 'Failed', 'the reused artifact refused', 20_000);
    expect(reports.get(`${NS}/reused`)).toMatchObject({ reason: 'SignatureInvalid' });
    expect(manager!.model(`${NS}/reused`)?.ready).toBe(false);
    expect(reports.get(`${NS}/signed`)).toMatchObject({ phase: 'Ready' });
  });

  it('the replacement would load on a node that does not check signatures (so the signature is what refused it)', async () => {
    const permissive = await createWorkloadManager({ accelerators: [CPU], cacheDir: join(dir.path, 'permissive'), cacheMaxBytes: 1e8, nats: admin });
    try {
      await permissive.apply(assignmentOf([workload(variant('fp32', replacement, 'cls/tampered.onnx', signature), { key: `${NS}/tampered`, deployment: 'tampered' })]));
      await permissive.settled();
      expect(permissive.reports()[0]).toMatchObject({ phase: 'Ready' });
    } finally {
      await permissive.close();
    }
    expect(readFileSync(join(dir.path, 'keys', 'cosign.pub'), 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
  });
});

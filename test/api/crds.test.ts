// The CRDs against a real kube-apiserver: installed, examples accepted, invalid resources
// refused with a message naming the field, status subresource, printer columns.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ApiException, ApiextensionsV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { API_VERSION, EMD_PLURAL, EN_PLURAL, GROUP, VERSION } from '@edgeplane/api';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { kubeConfig, readCrds, repoRoot } from '@edgeplane/env';
import { refusal } from './refusal.ts';
import { kubeRequest } from '@edgeplane/env';
import { TABLE } from '@edgeplane/env';

const kube = inject('kube');
const kc = kubeConfig(kube);
const custom = kc.makeApiClient(CustomObjectsApi);
const core = kc.makeApiClient(CoreV1Api);
const ns = 'crd-tests';

type Obj = Record<string, any>;

function readExample(file: string): Obj {
  return parse(readFileSync(join(repoRoot, 'deploy', 'examples', file), 'utf8')) as Obj;
}

/** A valid deployment that each table row breaks in one way. */
function base(name: string): Obj {
  const emd = structuredClone(readExample('camera-defect.yaml'));
  emd.metadata = { name, namespace: ns };
  return emd;
}

async function createEmd(body: Obj): Promise<Obj> {
  return (await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: EMD_PLURAL, body })) as Obj;
}


beforeAll(async () => {
  for (const name of [ns, 'factory-a', 'warehouse', 'plant-ops']) {
    await core.createNamespace({ body: { metadata: { name } } }).catch((err: unknown) => {
      if (!(err instanceof ApiException && err.code === 409)) throw err;
    });
  }
});

describe('CRDs', () => {
  it('both are Established with their short names and category', async () => {
    const api = kc.makeApiClient(ApiextensionsV1Api);
    for (const crd of readCrds()) {
      const live = await api.readCustomResourceDefinition({ name: crd.metadata!.name! });
      expect(live.status?.conditions?.find((c) => c.type === 'Established')?.status).toBe('True');
      expect(live.status?.acceptedNames?.shortNames).toEqual(crd.spec.names.shortNames);
      expect(live.status?.acceptedNames?.categories).toContain('edgeplane');
    }
  });

  it('every example in deploy/examples applies', async () => {
    const files = readdirSync(join(repoRoot, 'deploy', 'examples')).filter((f) => f.endsWith('.yaml') && f !== '00-namespaces.yaml');
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const file of files) {
      const doc = readExample(file);
      const created = (await custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: doc.metadata.namespace,
        plural: EMD_PLURAL,
        body: doc,
      })) as Obj;
      expect(created.metadata.uid, file).toBeTruthy();
      // Defaults come from the schema: every deployment has a complete tiering block.
      expect(created.spec.tiering.battery.int8BelowPercent).toBeTypeOf('number');
      expect(created.spec.rollout).toEqual(expect.objectContaining({ maxSurge: expect.anything(), maxUnavailable: expect.anything() }));
    }
  });
});

describe('invalid EdgeModelDeployments are refused, naming the field', () => {
  const rows: Array<{ name: string; mutate: (o: Obj) => void; field: string; says: RegExp }> = [
    { name: 'duplicate variant names', mutate: (o) => (o.spec.model.variants[1].name = o.spec.model.variants[0].name), field: 'spec.model.variants', says: /variant names must be unique/ },
    { name: 'sha256 not hex', mutate: (o) => (o.spec.model.variants[0].sha256 = 'z'.repeat(64)), field: 'spec.model.variants[0].sha256', says: /64 lowercase hexadecimal/ },
    { name: 'sha256 too short', mutate: (o) => (o.spec.model.variants[2].sha256 = 'abc123'), field: 'spec.model.variants[2].sha256', says: /64 lowercase hexadecimal/ },
    { name: 'signature not base64', mutate: (o) => (o.spec.model.variants[0].signature = 'not a signature, not base64'), field: 'spec.model.variants[0].signature', says: /standard base64 with padding/ },
    { name: 'signature longer than any ECDSA signature', mutate: (o) => (o.spec.model.variants[0].signature = 'A'.repeat(300)), field: 'spec.model.variants[0].signature', says: /256/ },
    { name: 'uri scheme ftp', mutate: (o) => (o.spec.model.variants[0].uri = 'ftp://models/x.onnx'), field: 'spec.model.variants[0].uri', says: /https:\/\/, file:\/\/ or nats-obj:\/\// },
    { name: 'int8 threshold above fp16', mutate: (o) => (o.spec.tiering.battery = { fp16BelowPercent: 30, int8BelowPercent: 40 }), field: 'spec.tiering.battery.int8BelowPercent', says: /int8BelowPercent must be below fp16BelowPercent/ },
    { name: 'no variant reaches minAccuracy', mutate: (o) => (o.spec.slo.minAccuracy = 0.99), field: 'spec.slo.minAccuracy', says: /no variant/ },
    { name: 'maxPerNode zero', mutate: (o) => (o.spec.placement.maxPerNode = 0), field: 'spec.placement.maxPerNode', says: /at least 1/ },
    { name: 'unknown precision', mutate: (o) => (o.spec.model.variants[0].precision = 'fp8'), field: 'spec.model.variants[0].precision', says: /Unsupported value/ },
    { name: 'negative replicas', mutate: (o) => (o.spec.replicas = -1), field: 'spec.replicas', says: /greater than or equal to 0/ },
    { name: 'no SLO', mutate: (o) => delete o.spec.slo, field: 'spec.slo', says: /Required/ },
    { name: 'no variants', mutate: (o) => (o.spec.model.variants = []), field: 'spec.model.variants', says: /at least 1 item/ },
    { name: 'In without values', mutate: (o) => (o.spec.placement.selector.matchExpressions = [{ key: 'k', operator: 'In' }]), field: 'spec.placement.selector.matchExpressions[0].values', says: /values must be non-empty/ },
    { name: 'hysteresis wider than the gap', mutate: (o) => (o.spec.tiering.battery = { fp16BelowPercent: 30, int8BelowPercent: 20, hysteresisPercent: 15 }), field: 'spec.tiering.battery.hysteresisPercent', says: /smaller than the gap/ },
    { name: 'rollout that cannot progress', mutate: (o) => (o.spec.rollout = { maxSurge: 0, maxUnavailable: '0%' }), field: 'spec.rollout.maxSurge', says: /must not both be zero/ },
    { name: 'spreadBy not a label key', mutate: (o) => (o.spec.placement.spreadBy = 'not a key!'), field: 'spec.placement.spreadBy', says: /label key/ },
    { name: 'accuracy above 1', mutate: (o) => (o.spec.model.variants[1].accuracy = 1.5), field: 'spec.model.variants[1].accuracy', says: /less than or equal to 1/ },
    { name: 'unknown link class', mutate: (o) => (o.spec.tiering = { network: { liteOn: ['satellite'] } }), field: 'spec.tiering.network.liteOn[0]', says: /Unsupported value/ },
    { name: 'latency SLO of zero', mutate: (o) => (o.spec.slo.latencyMs = 0), field: 'spec.slo.latencyMs', says: /greater than 0/ },
  ];

  for (const [i, row] of rows.entries()) {
    it(row.name, async () => {
      const obj = base(`invalid-${i}`);
      row.mutate(obj);
      const message = await refusal(() => createEmd(obj));
      expect(message).toContain(row.field);
      expect(message).toMatch(row.says);
    });
  }

  it('a variant signature as cosign prints it is accepted and kept', async () => {
    const obj = base('signed-variant');
    obj.spec.model.variants[0].signature = 'MEUCIQCs1l3c8yNwQKQmVwF0cM5w0Yb9Xv2mM0s0oTTbqz3d1gIgB0q1Wm3o1o7cXk9mH8yE6m0b1qQ0mB0pQ8u1d2n3f4g=';
    const created = await createEmd(obj);
    expect(created.spec.model.variants[0].signature).toBe(obj.spec.model.variants[0].signature);
  });

  it('an EdgeNode with a non-boolean unschedulable is refused', async () => {
    const message = await refusal(() =>
      custom.createClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: EN_PLURAL,
        body: { apiVersion: API_VERSION, kind: 'EdgeNode', metadata: { name: 'bad-node' }, spec: { unschedulable: 'yes' } },
      }),
    );
    expect(message).toContain('spec.unschedulable');
  });
});

describe('status subresource and printer columns', () => {
  it('status is written through /status; spec changes sent there are ignored', async () => {
    const created = await createEmd(base('status-subresource'));
    const name = created.metadata.name as string;
    const status = { observedGeneration: 1, replicas: 4, readyReplicas: 3, ready: '3/4', tiers: 'fp16:2 int8:2', precisionCounts: { fp16: 2, int8: 2 } };
    const updated = (await custom.replaceNamespacedCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: EMD_PLURAL,
      name,
      body: { ...created, spec: { ...created.spec, replicas: 99 }, status },
    })) as Obj;
    expect(updated.status.ready).toBe('3/4');
    expect(updated.spec.replicas).toBe(4);
    expect(updated.metadata.generation).toBe(created.metadata.generation);

    // And the main resource ignores status.
    const again = (await custom.replaceNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: EMD_PLURAL,
      name,
      body: { ...updated, status: { ...status, ready: '0/4' } },
    })) as Obj;
    expect(again.status.ready).toBe('3/4');
  });

  it('kubectl-style Table has READY and TIERS from status', async () => {
    const res = await kubeRequest(kube, 'GET', `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${EMD_PLURAL}/status-subresource`, undefined, TABLE);
    expect(res.status).toBe(200);
    const table = res.body as { columnDefinitions: Array<{ name: string }>; rows: Array<{ cells: unknown[] }> };
    const names = table.columnDefinitions.map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['Name', 'Model', 'Ready', 'Tiers', 'Age']));
    const cells = table.rows[0]!.cells;
    expect(cells[names.indexOf('Ready')]).toBe('3/4');
    expect(cells[names.indexOf('Tiers')]).toBe('fp16:2 int8:2');
    expect(cells[names.indexOf('Model')]).toBe('defect-detector');
  });

  it('EdgeNode columns show readiness, accelerators, power and link', async () => {
    const node = (await custom.createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: EN_PLURAL,
      body: { apiVersion: API_VERSION, kind: 'EdgeNode', metadata: { name: 'table-node' }, spec: {} },
    })) as Obj;
    await custom.replaceClusterCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      plural: EN_PLURAL,
      name: 'table-node',
      body: {
        ...node,
        status: {
          acceleratorSummary: 'GPU,CPU',
          powerSummary: 'battery 41%',
          network: { type: 'wifi' },
          conditions: [{ type: 'Ready', status: 'True', reason: 'HeartbeatsArriving', message: '', lastTransitionTime: new Date().toISOString() }],
        },
      },
    });
    const res = await kubeRequest(kube, 'GET', `/apis/${GROUP}/${VERSION}/${EN_PLURAL}/table-node`, undefined, TABLE);
    const table = res.body as { columnDefinitions: Array<{ name: string }>; rows: Array<{ cells: unknown[] }> };
    const names = table.columnDefinitions.map((c) => c.name);
    const cells = table.rows[0]!.cells;
    expect(cells[names.indexOf('Ready')]).toBe('True');
    expect(cells[names.indexOf('Accelerators')]).toBe('GPU,CPU');
    expect(cells[names.indexOf('Power')]).toBe('battery 41%');
    expect(cells[names.indexOf('Link')]).toBe('wifi');
  });
});

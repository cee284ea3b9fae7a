// spec.escalation against a real kube-apiserver: a valid escalation is accepted with its budget
// defaulted; escalating to itself, a threshold out of range and a rule naming two signals (or
// none) are refused with a message naming the field.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiException, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { EMD_PLURAL, GROUP, VERSION } from '@edgeplane/api';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { kubeConfig, repoRoot } from '@edgeplane/env';
import { refusal } from './refusal.ts';

const kube = inject('kube');
const kc = kubeConfig(kube);
const custom = kc.makeApiClient(CustomObjectsApi);
const core = kc.makeApiClient(CoreV1Api);
const ns = 'escalation-crd';

type Obj = Record<string, any>;

function base(name: string): Obj {
  const emd = parse(readFileSync(join(repoRoot, 'deploy', 'examples', 'camera-defect.yaml'), 'utf8')) as Obj;
  emd.metadata = { name, namespace: ns };
  emd.spec.escalation = { deployment: 'camera-defect-big', rule: { confidenceBelow: 0.85 } };
  return emd;
}

async function createEmd(body: Obj): Promise<Obj> {
  return (await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: EMD_PLURAL, body })) as Obj;
}

const refused = (body: Obj): Promise<string> => refusal(() => createEmd(body));

beforeAll(async () => {
  await core.createNamespace({ body: { metadata: { name: ns } } }).catch((err: unknown) => {
    if (!(err instanceof ApiException && err.code === 409)) throw err;
  });
});

describe('spec.escalation', () => {
  it('a valid escalation is accepted and its budget defaulted', async () => {
    const created = await createEmd(base('edge-ok'));
    expect(created.spec.escalation).toEqual({
      deployment: 'camera-defect-big',
      rule: { confidenceBelow: 0.85 },
      budget: { requestsPerSecond: 5, bytesPerSecond: 1048576, meteredFactor: 0.1 },
      waitForAnswer: true,
    });
  });

  const rows: Array<{ name: string; mutate: (o: Obj) => void; field: string; says: RegExp }> = [
    { name: 'escalating to itself', mutate: (o) => (o.spec.escalation.deployment = o.metadata.name), field: 'spec.escalation.deployment', says: /another deployment, not this one/ },
    { name: 'confidence threshold above 1', mutate: (o) => (o.spec.escalation.rule = { confidenceBelow: 1.5 }), field: 'spec.escalation.rule.confidenceBelow', says: /strictly between 0 and 1/ },
    { name: 'margin threshold of 0', mutate: (o) => (o.spec.escalation.rule = { marginBelow: 0 }), field: 'spec.escalation.rule.marginBelow', says: /strictly between 0 and 1/ },
    { name: 'negative entropy threshold', mutate: (o) => (o.spec.escalation.rule = { entropyAbove: -0.2 }), field: 'spec.escalation.rule.entropyAbove', says: /strictly between 0 and 1/ },
    { name: 'two rules at once', mutate: (o) => (o.spec.escalation.rule = { confidenceBelow: 0.8, entropyAbove: 0.3 }), field: 'spec.escalation.rule', says: /exactly one of confidenceBelow, marginBelow or entropyAbove/ },
    { name: 'no rule', mutate: (o) => (o.spec.escalation.rule = {}), field: 'spec.escalation.rule', says: /exactly one of/ },
    { name: 'metered factor above 1', mutate: (o) => (o.spec.escalation.budget = { meteredFactor: 2 }), field: 'spec.escalation.budget.meteredFactor', says: /less than or equal to 1/ },
    { name: 'zero request rate', mutate: (o) => (o.spec.escalation.budget = { requestsPerSecond: 0 }), field: 'spec.escalation.budget.requestsPerSecond', says: /greater than 0/ },
    { name: 'deployment not a name', mutate: (o) => (o.spec.escalation.deployment = 'Big Tier'), field: 'spec.escalation.deployment', says: /should match/ },
  ];

  for (const [i, row] of rows.entries()) {
    it(`refuses ${row.name}`, async () => {
      const obj = base(`bad-escalation-${i}`);
      row.mutate(obj);
      const message = await refused(obj);
      expect(message).toContain(row.field);
      expect(message).toMatch(row.says);
    });
  }
});

import { describe, expect, it } from 'vitest';
import { EdgeModelDeployment, type EdgeModelDeploymentInput } from './edgemodeldeployment.ts';
import { escalationRuleOf, EscalationRuleSpec } from './escalation.ts';
import { issuesOf } from './errors.ts';

function emd(escalation: unknown, name = 'rec-edge'): EdgeModelDeploymentInput {
  return {
    apiVersion: 'edgeplane.io/v1alpha1',
    kind: 'EdgeModelDeployment',
    metadata: { name, namespace: 'ocr' },
    spec: {
      model: {
        name: 'ppocr-v4-rec',
        task: 'text-recognition',
        variants: [{ name: 'int8', precision: 'int8', uri: 'file:///m.onnx', sha256: 'a'.repeat(64), sizeBytes: 1, accuracy: 0.9, gflops: 1, memoryMiB: 10 }],
      },
      slo: { latencyMs: 50 },
      escalation,
    } as EdgeModelDeploymentInput['spec'],
  };
}

const issues = (input: unknown) => {
  const r = EdgeModelDeployment.safeParse(input);
  return r.success ? [] : issuesOf(r.error);
};

describe('spec.escalation', () => {
  it('defaults the budget and waits for the answer', () => {
    const parsed = EdgeModelDeployment.parse(emd({ deployment: 'rec-big', rule: { marginBelow: 0.3 } }));
    expect(parsed.spec.escalation).toEqual({
      deployment: 'rec-big',
      rule: { marginBelow: 0.3 },
      budget: { requestsPerSecond: 5, bytesPerSecond: 1048576, meteredFactor: 0.1 },
      waitForAnswer: true,
    });
    expect(escalationRuleOf(parsed.spec.escalation!.rule)).toEqual({ kind: 'marginBelow', threshold: 0.3 });
  });

  it('is optional', () => {
    expect(issues(emd(undefined))).toEqual([]);
  });

  it('refuses escalating to itself, naming the field', () => {
    expect(issues(emd({ deployment: 'rec-edge', rule: { confidenceBelow: 0.8 } }))).toEqual([
      { path: 'spec.escalation.deployment', message: expect.stringMatching(/not this one/) },
    ]);
  });

  it.each([0, 1, -0.1, 1.2])('refuses threshold %s', (t) => {
    expect(issues(emd({ deployment: 'rec-big', rule: { entropyAbove: t } }))).toEqual([
      { path: 'spec.escalation.rule.entropyAbove', message: expect.stringMatching(/strictly between 0 and 1/) },
    ]);
  });

  it('refuses two rules or none', () => {
    for (const rule of [{}, { confidenceBelow: 0.8, marginBelow: 0.2 }]) {
      expect(EscalationRuleSpec.safeParse(rule).success).toBe(false);
      expect(issues(emd({ deployment: 'rec-big', rule }))[0]?.path).toBe('spec.escalation.rule');
    }
  });
});

import { describe, expect, it } from 'vitest';
import { EdgeModelDeploymentSpec, WorkloadAssignment } from '@edgeplane/api';
import type { Placement } from '../placement/types.ts';
import { nodeWorkloads, workloadsFingerprint } from './assignment.ts';

const SIG = 'MEUCIQCs1l3c8yNwQKQmVwF0cM5w0Yb9Xv2mM0s0oTTbqz3d1gIgB0q1Wm3o1o7cXk9mH8yE6m0b1qQ0mB0pQ8u1d2n3f4g=';

const placement: Placement = { deployment: 'ns/a', node: 'n1', accelerator: 'cpu0', variant: 'int8', precision: 'int8', profile: 'full', cap: 'fp32', predictedP99Ms: 5, tierReason: '' };

const spec = (signature?: string) =>
  EdgeModelDeploymentSpec.parse({
    model: {
      name: 'cls',
      task: 'cls',
      variants: [{ name: 'int8', precision: 'int8', uri: 'nats-obj://ep-models/cls-int8.onnx', sha256: 'a'.repeat(64), sizeBytes: 10, accuracy: 0.9, gflops: 1, memoryMiB: 16, ...(signature ? { signature } : {}) }],
    },
    replicas: 1,
    slo: { latencyMs: 50 },
  });

describe('nodeWorkloads and variant signatures', () => {
  it("carries the variant's signature to the agent, and parses as the agent parses it", () => {
    const [w] = nodeWorkloads('n1', [{ key: 'ns/a', spec: spec(SIG), placements: [placement] }]);
    expect(w?.variant.signature).toBe(SIG);
    expect(WorkloadAssignment.parse(w).variant.signature).toBe(SIG);
  });

  it('leaves an unsigned variant without the field', () => {
    const [w] = nodeWorkloads('n1', [{ key: 'ns/a', spec: spec(), placements: [placement] }]);
    expect(w?.variant).not.toHaveProperty('signature');
  });

  it('counts a new signature as a change worth writing', () => {
    const a = nodeWorkloads('n1', [{ key: 'ns/a', spec: spec(SIG), placements: [placement] }]);
    const b = nodeWorkloads('n1', [{ key: 'ns/a', spec: spec(SIG.replace('MEUC', 'MEQC')), placements: [placement] }]);
    expect(workloadsFingerprint(a)).not.toBe(workloadsFingerprint(b));
  });
});

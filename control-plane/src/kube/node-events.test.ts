import { describe, expect, it } from 'vitest';
import type { EdgeNode } from '@edgeplane/api';
import { nodeTransitions } from './node-events.ts';

const now = Date.parse('2030-01-01T00:10:00Z');
function node(ready: boolean, fields: { unschedulable?: boolean; revoked?: boolean; created?: string } = {}): EdgeNode {
  return {
    apiVersion: 'edgeplane.io/v1alpha1',
    kind: 'EdgeNode',
    metadata: { name: 'n1', creationTimestamp: fields.created ?? '2030-01-01T00:09:30Z', ...(fields.revoked ? { annotations: { 'edgeplane.io/revoked': 'true' } } : {}) },
    spec: { unschedulable: fields.unschedulable ?? false },
    status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', reason: 'R', message: '', lastTransitionTime: '2030-01-01T00:00:00Z' }] },
  };
}
const reasons = (prev: EdgeNode | undefined, next: EdgeNode) => nodeTransitions(prev, next, now).map((e) => `${e.type}/${e.reason}`);

describe('nodeTransitions', () => {
  it('a node added just now registered; one listed after a restart did not', () => {
    expect(reasons(undefined, node(false))).toEqual(['Normal/RegisteredNode']);
    expect(reasons(undefined, node(true, { created: '2029-12-01T00:00:00Z' }))).toEqual([]);
  });
  it('Ready flips, cordon and uncordon, revocation', () => {
    expect(reasons(node(true), node(false))).toEqual(['Warning/NodeNotReady']);
    expect(reasons(node(false), node(true))).toEqual(['Normal/NodeReady']);
    expect(reasons(node(true), node(true, { unschedulable: true }))).toEqual(['Normal/NodeNotSchedulable']);
    expect(reasons(node(true, { unschedulable: true }), node(true))).toEqual(['Normal/NodeSchedulable']);
    expect(reasons(node(true), node(true, { revoked: true, unschedulable: true }))).toEqual(['Normal/NodeNotSchedulable', 'Warning/NodeRevoked']);
  });
  it('a status write that changes nothing that matters records nothing', () => {
    expect(reasons(node(true), node(true))).toEqual([]);
  });
});

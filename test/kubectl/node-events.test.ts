// EdgeNode Events written to the real API server: each transition once, and a flapping cause
// aggregated into one Event whose series counts the repeats.
import { EventsV1Api } from '@kubernetes/client-node';
import { API_VERSION, EN_KIND, type EdgeNode } from '@edgeplane/api';
import { pino } from 'pino';
import { describe, expect, inject, it } from 'vitest';
import { kubeConfig } from '@edgeplane/env';
import { EventSeries } from '../../control-plane/src/kube/event-series.ts';
import { NodeEvents } from '../../control-plane/src/kube/node-events.ts';

const kube = inject('kube');
const events = kubeConfig(kube).makeApiClient(EventsV1Api);

function node(name: string, ready: boolean, fields: { unschedulable?: boolean; revoked?: boolean; created?: string } = {}): EdgeNode {
  return {
    apiVersion: API_VERSION,
    kind: EN_KIND,
    metadata: {
      name,
      uid: `uid-${name}`,
      creationTimestamp: fields.created ?? new Date().toISOString(),
      ...(fields.revoked ? { annotations: { 'edgeplane.io/revoked': 'true' } } : {}),
    },
    spec: { unschedulable: fields.unschedulable ?? false },
    status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', reason: 'R', message: ready ? '' : 'the agent stopped heartbeating', lastTransitionTime: '2030-01-01T00:00:00Z' }] },
  };
}

async function eventsOf(name: string) {
  const res = await events.listNamespacedEvent({ namespace: 'default', fieldSelector: `regarding.name=${name}` });
  return res.items;
}

describe('EdgeNode Events', () => {
  it('registered, not ready, ready again, cordoned and revoked, once each', async () => {
    let now = Date.now();
    const rec = new NodeEvents({ events, identity: 'test', log: pino({ level: 'silent' }), now: () => now });
    const name = `ev-node-${Date.now().toString(36)}`;
    const steps = [node(name, true), node(name, false), node(name, true), node(name, true, { unschedulable: true }), node(name, true, { unschedulable: true, revoked: true })];
    for (const [i, n] of steps.entries()) {
      rec.observe(i === 0 ? 'add' : 'update', name, n);
      now += 1000;
    }
    await new Promise((r) => setTimeout(r, 500));
    rec.stop();
    const got = await eventsOf(name);
    expect(got.map((e) => e.reason).sort()).toEqual(['NodeNotReady', 'NodeNotSchedulable', 'NodeReady', 'NodeRevoked', 'RegisteredNode']);
    expect(got.find((e) => e.reason === 'NodeNotReady')).toMatchObject({ type: 'Warning', regarding: { kind: 'EdgeNode', name } });
    expect(got.find((e) => e.reason === 'NodeNotReady')?.note).toMatch(/the agent stopped heartbeating/);
  });

  it('a node flapping 200 times leaves one Event per cause, its series counting the repeats', async () => {
    let now = Date.now();
    const series = new EventSeries({ refreshMs: 60_000 });
    const rec = new NodeEvents({ events, identity: 'test', log: pino({ level: 'silent' }), now: () => now, series });
    const name = `flap-${Date.now().toString(36)}`;
    rec.observe('add', name, node(name, true, { created: '2020-01-01T00:00:00Z' }));
    for (let i = 0; i < 200; i++) {
      rec.observe('update', name, node(name, i % 2 === 1));
      now += 100;
      if (i < 4) await new Promise((r) => setTimeout(r, 300)); // let the first writes land in order
    }
    await new Promise((r) => setTimeout(r, 500));
    let got = await eventsOf(name);
    // An old node listed after a restart is not "registered"; each cause is one object.
    expect(got.map((e) => e.reason).sort()).toEqual(['NodeNotReady', 'NodeReady']);
    expect(got.every((e) => (e.series?.count ?? 0) === 2)).toBe(true);

    // The periodic refresh writes the counts that grew meanwhile.
    now += 61_000;
    await rec.flush();
    rec.stop();
    got = await eventsOf(name);
    expect(got.map((e) => e.series?.count).sort()).toEqual([100, 100]);
  });
});

// The `make up` path, headless: real servers, the real control plane, three real agent
// processes on hardware fixtures, the real PP-OCR classifier's variants. Asserts Ready, a
// correct classification through NATS and through an agent's KServe v2 endpoint, and tier
// changes as the battery gateway drains.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { applyDeployment } from '@edgeplane/env';
import { kubeConfig } from '@edgeplane/env';
import { demoAgents } from '../../scripts/up/agents.ts';
import {
  classifyHttp,
  classifyNats,
  connect,
  inputName,
  ocrDeployment,
  publishOcrVariants,
  textLine,
  waitPlacement,
  waitReady,
} from '../../scripts/up/demo.ts';
import { startStack, type Stack } from '../../scripts/up/stack.ts';
import type { ApiEndpoint } from '../../scripts/up/api-token.ts';

let stack: Stack;
let nc: NatsConnection;
let api: ApiEndpoint;
const ns = 'warehouse';
const name = 'ocr-line';
const pi = 'pi-handheld-1';

beforeAll(async () => {
  // Its own etcd + kube-apiserver: the control plane here reconciles every namespace.
  stack = await startStack({ agents: demoAgents, log: () => {}, heartbeatIntervalMs: 500 });
  api = stack.api;
  const pushed = await publishOcrVariants(stack.nats, () => {});
  await applyDeployment(kubeConfig(stack.kube), ocrDeployment(pushed));
  // An inference client's credentials, as make up's client has.
  nc = await connect(await stack.nats.connectOptions('client'));
}, 240_000);

afterAll(async () => {
  await nc?.close();
  await stack?.stop();
}, 60_000);

const piAgent = () => stack.agents.find((a) => a.spec.node === pi)!;

/** On a failure, the agents' and control plane's own words, before stop() removes them. */
function showLogsOnFailure(): void {
  onTestFailed(() => {
    for (const agent of stack.agents) {
      const lines = readFileSync(agent.logFile, 'utf8').trim().split('\n');
      console.log(`--- ${agent.spec.node} (last 40 of ${lines.length} lines)\n${lines.slice(-40).join('\n')}`);
    }
    const cp = readFileSync(join(stack.workDir, 'control-plane.log'), 'utf8').trim().split('\n');
    console.log(`--- control plane (warnings and errors of ${cp.length} lines)\n${cp.filter((l) => /"level":(4|5)0/.test(l)).slice(-60).join('\n')}`);
  });
}

describe('OCR line end to end', () => {
  it('every replica becomes Ready, one per gateway, with status in the resource', async () => {
    showLogsOnFailure();
    const detail = await waitReady(api, ns, name, 180_000);
    expect(detail.ready).toBe('3/3');
    expect(new Set(detail.placements.map((p) => p.node))).toEqual(new Set(demoAgents.map((a) => a.node)));
    // The battery gateway is on LTE: the lite profile, not the full fp32 model.
    const onPi = detail.placements.find((p) => p.node === pi)!;
    expect(onPi.profile).toBe('lite');
    const jetson = detail.placements.find((p) => p.node === 'jetson-line-1')!;
    expect(jetson.precision).toBe('fp32');
  }, 200_000);

  it('classifies an upright and a rotated line correctly through NATS and the local endpoint', async () => {
    const agent = stack.agents[0]!;
    const input = await inputName(agent.http, name);
    for (const rotated of [false, true]) {
      const tensor = textLine('edgeplane keeps models at the edge', rotated);
      const viaNats = await classifyNats(nc, ns, name, input, tensor);
      expect(viaNats.rotated, `NATS, rotated=${rotated}, scores ${viaNats.scores.join(',')}`).toBe(rotated);
      expect(demoAgents.map((a) => a.node)).toContain(viaNats.node);
      const viaHttp = await classifyHttp(agent.http, name, input, tensor);
      expect(viaHttp.rotated, `v2 REST, rotated=${rotated}`).toBe(rotated);
      expect(viaHttp.scores).toHaveLength(2);
    }
  }, 60_000);

  it('re-tiers the battery gateway live as its link and battery change', async () => {
    showLogsOnFailure();
    const agent = piAgent();
    agent.setNetwork({ type: 'wifi', bandwidthMbps: 80, metered: false });
    const onWifi = await waitPlacement(api, ns, name, pi, (r) => r.profile === 'full' && r.precision === 'fp32' && r.phase === 'Ready', 60_000);
    expect(onWifi.link).toBe('wifi');

    agent.setPower({ source: 'battery', batteryPercent: 40, charging: false });
    const capped16 = await waitPlacement(api, ns, name, pi, (r) => r.precision !== 'fp32' && r.phase === 'Ready', 60_000);
    expect(capped16.reason).toMatch(/capped at fp16/);

    agent.setPower({ source: 'battery', batteryPercent: 12, charging: false });
    const capped8 = await waitPlacement(api, ns, name, pi, (r) => r.precision === 'int8' && /capped at int8/.test(r.reason), 60_000);
    expect(capped8.battery).toBe('12%');

    // Still serving after the switches: a switch loads the new variant before the swap.
    const input = await inputName(stack.agents[0]!.http, name);
    const answer = await classifyNats(nc, ns, name, input, textLine('after the switch', true, 9));
    expect(answer.rotated).toBe(true);
  }, 200_000);
});

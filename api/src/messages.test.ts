import { describe, expect, it } from 'vitest';
import {
  AssignedVariant,
  Assignment,
  HELLO_REPLY_BOUNDS,
  Heartbeat,
  Hello,
  HelloReply,
  TensorList,
  decode,
  encode,
  isMessageParseError,
  nodeFromSubject,
  subjects,
} from './index.ts';

const hello = {
  v: 1,
  node: 'gw-7',
  agentVersion: '0.1.0',
  bootId: 'b-1',
  host: { arch: 'arm64', cpuModel: 'Cortex-A72', cores: 4, memoryMiB: 3906 },
  accelerators: [{ id: 'cpu0', type: 'CPU', memoryMiB: 3906, precisions: ['fp32', 'int8'], tops: { fp32: 0.01, int8: 0.03 } }],
  power: { source: 'battery', batteryPercent: 63, charging: false },
  network: { type: 'cellular-4g', bandwidthMbps: 12.5, rttMs: 48, metered: true },
  cachedArtifacts: ['a'.repeat(64)],
  labels: { 'topology.edgeplane.io/site': 'dock-3' },
} as const;

const roundTrips = [
  { name: 'hello', schema: Hello, value: hello },
  { name: 'hello reply', schema: HelloReply, value: { v: 1, accepted: true, heartbeatIntervalMs: 5000, fullEvery: 12, assignmentsBucket: 'ep-assignments', modelsBucket: 'ep-models' } },
  { name: 'idle heartbeat', schema: Heartbeat, value: { v: 1, seq: 42 } },
  {
    name: 'full heartbeat',
    schema: Heartbeat,
    value: {
      v: 1,
      seq: 48,
      full: true,
      power: { source: 'mains' },
      network: { type: 'ethernet', bandwidthMbps: 940 },
      load: [{ id: 'gpu0', util: 0.4, queue: 3 }],
      workloads: [{ key: 'factory-a/camera-defect', variant: 'yolo-defect-fp16', accelerator: 'gpu0', phase: 'Ready', p50Ms: 9.1, p99Ms: 14.2, rps: 31 }],
      cachedArtifacts: ['b'.repeat(64)],
    },
  },
  {
    name: 'assignment',
    schema: Assignment,
    value: {
      v: 1,
      node: 'gw-7',
      issuedAtMs: 1_790_000_000_000,
      workloads: [
        {
          key: 'warehouse/ocr-line',
          namespace: 'warehouse',
          deployment: 'ocr-line',
          model: 'ppocr-v4-cls',
          task: 'text-direction-classification',
          variant: { name: 'cls-int8', precision: 'int8', profile: 'lite', uri: 'nats-obj://ep-models/cls-int8.onnx', sha256: 'c'.repeat(64), sizeBytes: 160000, memoryMiB: 12 },
          accelerator: 'cpu0',
          maxBatch: 4,
          maxQueueDelayMs: 2,
          latencySloMs: 50,
        },
      ],
    },
  },
  { name: 'tensor list', schema: TensorList, value: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192] }] },
];

describe('wire messages round-trip', () => {
  for (const { name, schema, value } of roundTrips) {
    it(name, () => {
      const bytes = encode(schema, name, value as never);
      const back = decode(schema, name, bytes);
      expect(back.ok).toBe(true);
      if (back.ok) expect(back.value).toEqual(schema.parse(value));
    });
  }
});

describe('malformed messages', () => {
  const rows: Array<{ name: string; data: string; path: string }> = [
    { name: 'not JSON', data: '{"v":1,', path: '(root)' },
    { name: 'wrong protocol version', data: JSON.stringify({ ...hello, v: 2 }), path: 'v' },
    { name: 'node name not a DNS label', data: JSON.stringify({ ...hello, node: 'GW_7' }), path: 'node' },
    { name: 'battery over 100', data: JSON.stringify({ ...hello, power: { source: 'battery', batteryPercent: 140 } }), path: 'power.batteryPercent' },
    { name: 'unknown accelerator type', data: JSON.stringify({ ...hello, accelerators: [{ ...hello.accelerators[0], type: 'QPU' }] }), path: 'accelerators.0.type' },
    { name: 'no accelerators', data: JSON.stringify({ ...hello, accelerators: [] }), path: 'accelerators' },
    { name: 'digest of wrong length', data: JSON.stringify({ ...hello, cachedArtifacts: ['abc'] }), path: 'cachedArtifacts.0' },
    { name: 'array instead of object', data: '[1,2,3]', path: '(root)' },
  ];
  for (const row of rows) {
    it(`${row.name}: typed error naming ${row.path}`, () => {
      const result = decode(Hello, 'hello', row.data);
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(isMessageParseError(result.error)).toBe(true);
      expect(result.error.code).toBe('MALFORMED_MESSAGE');
      expect(result.error.issues.map((i) => i.path)).toContain(row.path);
    });
  }

  it('bytes that are not UTF-8 are a parse error, not an exception', () => {
    const result = decode(Heartbeat, 'heartbeat', new Uint8Array([0xff, 0xfe, 0x7b]));
    expect(result.ok).toBe(false);
  });

  it('encode refuses what the peer would refuse', () => {
    expect(() => encode(Heartbeat, 'heartbeat', { v: 1, seq: -1 })).toThrowError(/seq/);
  });
});

describe('subjects', () => {
  it('node names round-trip through subjects', () => {
    expect(nodeFromSubject(subjects.status('gw-7'))).toBe('gw-7');
    expect(nodeFromSubject(subjects.hello('a'))).toBe('a');
    expect(nodeFromSubject('ep.v1.infer.ns.d')).toBeNull();
    expect(nodeFromSubject('ep.v1.node.a.b.status')).toBeNull();
  });
});

describe('hello reply bounds', () => {
  const reply = { v: 1, accepted: true, heartbeatIntervalMs: 5000, fullEvery: 12 };
  const rows: Array<{ name: string; value: Record<string, unknown>; path?: string }> = [
    { name: 'the smallest interval', value: { ...reply, heartbeatIntervalMs: HELLO_REPLY_BOUNDS.heartbeatIntervalMs.min } },
    { name: 'the largest interval', value: { ...reply, heartbeatIntervalMs: HELLO_REPLY_BOUNDS.heartbeatIntervalMs.max } },
    { name: 'no bucket names (they are optional)', value: reply },
    { name: 'a 1 ms interval (1 kHz heartbeats)', value: { ...reply, heartbeatIntervalMs: 1 }, path: 'heartbeatIntervalMs' },
    { name: 'an interval of a day', value: { ...reply, heartbeatIntervalMs: 86_400_000 }, path: 'heartbeatIntervalMs' },
    { name: 'fullEvery 0', value: { ...reply, fullEvery: 0 }, path: 'fullEvery' },
    { name: 'fullEvery past the bound', value: { ...reply, fullEvery: HELLO_REPLY_BOUNDS.fullEvery.max + 1 }, path: 'fullEvery' },
    { name: 'a bucket name with a subject wildcard', value: { ...reply, assignmentsBucket: 'ep-assignments.>' }, path: 'assignmentsBucket' },
    { name: 'a reason of a megabyte', value: { ...reply, accepted: false, reason: 'x'.repeat(2 ** 20) }, path: 'reason' },
  ];
  for (const row of rows) {
    it(`${row.name}: ${row.path ? `refused at ${row.path}` : 'accepted'}`, () => {
      const r = decode(HelloReply, 'hello reply', JSON.stringify(row.value));
      expect(r.ok).toBe(!row.path);
      if (!r.ok) expect(r.error.issues.map((i) => i.path)).toContain(row.path);
    });
  }
});

describe('sha256 on the wire', () => {
  const variant = { name: 'v', precision: 'int8', profile: 'lite', uri: 'nats-obj://ep-models/v', sizeBytes: 1, memoryMiB: 1 };
  const rows: Array<{ name: string; sha256: string; ok: boolean }> = [
    { name: 'lowercase hex', sha256: '0123456789abcdef'.repeat(4), ok: true },
    { name: 'upper case', sha256: 'A'.repeat(64), ok: false },
    { name: 'a path of 64 characters', sha256: `../../etc/${'x'.repeat(54)}`, ok: false },
    { name: 'not hex', sha256: 'z'.repeat(64), ok: false },
    { name: 'too long', sha256: 'a'.repeat(65), ok: false },
  ];
  for (const row of rows) {
    it(`${row.name}: ${row.ok ? 'accepted' : 'refused'} in a variant, a hello and a heartbeat`, () => {
      expect(AssignedVariant.safeParse({ ...variant, sha256: row.sha256 }).success).toBe(row.ok);
      expect(decode(Hello, 'hello', JSON.stringify({ ...hello, cachedArtifacts: [row.sha256] })).ok).toBe(row.ok);
      expect(decode(Heartbeat, 'heartbeat', JSON.stringify({ v: 1, seq: 1, cachedArtifacts: [row.sha256] })).ok).toBe(row.ok);
    });
  }
});

describe('hello labels', () => {
  it('are bounded in number and length', () => {
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    expect(decode(Hello, 'hello', JSON.stringify({ ...hello, labels: many })).ok).toBe(false);
    expect(decode(Hello, 'hello', JSON.stringify({ ...hello, labels: { site: 'x'.repeat(64) } })).ok).toBe(false);
  });
});

describe('parse errors of hostile messages', () => {
  it('name the first few issues and count the rest', () => {
    const r = decode(Heartbeat, 'heartbeat', JSON.stringify({ v: 1, seq: 1, load: Array.from({ length: 64 }, () => ({ id: 1 })) }));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.message).toMatch(/and \d+ more$/);
    expect(r.error.message.length).toBeLessThan(2000);
    expect(r.error.issues.length).toBeLessThanOrEqual(64);
  });
});

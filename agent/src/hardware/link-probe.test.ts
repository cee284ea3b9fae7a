import { describe, expect, it } from 'vitest';
import { bandwidthMbps, parseProbeReply, requestFrameBytes } from './link-probe.ts';

describe('probe reply', () => {
  const rows = [
    { input: '{"bytes":1024}', want: 1024 },
    { input: '{"v":1,"bytes":0,"node":"a"}', want: 0 },
    { input: '2048', want: 2048 },
    { input: '{"bytes":-1}', want: null },
    { input: '{"bytes":"10"}', want: null },
    { input: 'ok', want: null },
    { input: '', want: null },
  ];
  for (const row of rows) it(JSON.stringify(row.input), () => expect(parseProbeReply(row.input)).toBe(row.want));
});

describe('bandwidth', () => {
  const rows = [
    { name: '1 MB in 80 ms after a 0 ms rtt', bytes: 1_000_000, elapsed: 80, rtt: 0, want: 100 },
    { name: 'rtt is taken off', bytes: 125_000, elapsed: 60, rtt: 50, want: 100 },
    { name: 'elapsed under rtt does not divide by zero', bytes: 1000, elapsed: 1, rtt: 2, want: 160 },
  ];
  for (const row of rows) it(row.name, () => expect(bandwidthMbps(row.bytes, row.elapsed, row.rtt)).toBe(row.want));
});

describe('request frame bytes', () => {
  it('counts the PUB out and the MSG back, as nats-server reads and writes them', () => {
    const subject = 'ep.v1.node.n1.probe';
    const reply = '_INBOX.node.n1.0123456789012345678901.abcdefgh';
    const payload = 8192;
    const pub = `PUB ${subject} ${reply} ${payload}\r\n`.length + payload + 2;
    const msg = `MSG ${reply} 12 4\r\n`.length + 4 + 2;
    expect(requestFrameBytes(subject, reply.length, payload, 4)).toBe(pub + msg);
  });
});

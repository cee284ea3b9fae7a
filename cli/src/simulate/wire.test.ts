import { describe, expect, it } from 'vitest';
import { pubFrameBytes } from './wire.ts';

describe('pubFrameBytes', () => {
  it('counts the PUB line, payload and both CRLFs', () => {
    const subject = 'ep.v1.node.sim-00001.status';
    const payload = '{"v":1,"seq":1}';
    const frame = `PUB ${subject} ${payload.length}\r\n${payload}\r\n`;
    expect(pubFrameBytes(subject, payload.length)).toBe(frame.length);
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runSimulate } from './command.ts';
import { parseTimeline, resolveTimeline } from './timeline.ts';
import { assignProfiles, parseMix } from './mix.ts';
import { DEFAULT_MIX } from './profiles.ts';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) }, out, err };
}

describe('edgeplane simulate flags', () => {
  const rows = [
    { name: 'no --nodes', argv: [], code: 2, err: /--nodes needs a whole number/ },
    { name: 'fractional nodes', argv: ['--nodes', '2.5'], code: 2, err: /--nodes needs a whole number/ },
    { name: 'unknown profile', argv: ['--nodes', '3', '--mix', 'toaster:1'], code: 2, err: /unknown profile "toaster"/ },
    { name: 'negative duration', argv: ['--nodes', '3', '--duration=-1'], code: 2, err: /--duration must be a number >= 0/ },
    { name: 'unknown flag', argv: ['--nodes', '3', '--warp'], code: 2, err: /--warp/ },
    { name: 'missing timeline file', argv: ['--nodes', '3', '--timeline', '/nonexistent/t.yaml'], code: 2, err: /cannot read the timeline \/nonexistent\/t.yaml/ },
    { name: 'unreadable credentials', argv: ['--nodes', '3', '--nats-creds', '/nonexistent/admin.creds'], code: 2, err: /--nats-creds: cannot read \/nonexistent\/admin.creds: ENOENT/ },
    { name: 'unreadable CA', argv: ['--nodes', '3', '--nats-ca', '/nonexistent/ca.pem'], code: 2, err: /--nats-ca: cannot read \/nonexistent\/ca.pem: ENOENT/ },
  ];
  for (const row of rows) {
    it(`refuses ${row.name}`, async () => {
      const c = capture();
      expect(await runSimulate(row.argv, c.io)).toBe(row.code);
      expect(c.err.join('')).toMatch(row.err);
    });
  }

  it('--help prints the usage and every profile', async () => {
    const c = capture();
    expect(await runSimulate(['--help'], c.io)).toBe(0);
    expect(c.out.join('')).toMatch(/--nodes N[\s\S]*rpi-battery \(/);
    // A load tool speaking for many nodes: the usage says whose credentials it takes.
    expect(c.out.join('')).toMatch(/not a node[\s\S]*--nats-creds FILE/);
  });
});

describe('the example timeline', () => {
  it('parses and selects nodes of the default mix', () => {
    const timeline = parseTimeline(readFileSync(new URL('./examples/battery-and-link.yaml', import.meta.url), 'utf8'));
    const nodes = assignProfiles(parseMix(DEFAULT_MIX), 100).map((profile, i) => ({ name: `sim-${i}`, profile }));
    const byNode = resolveTimeline(timeline, nodes);
    // 30 battery gateways get two events, 5 Jetsons one, 10 x86 servers two.
    expect([...byNode.values()].filter((e) => e.length === 2).length).toBe(40);
    expect(byNode.size).toBe(45);
  });
});

// Every group and subcommand of `edgeplane` answers --help with its usage and exit 0.
import { describe, expect, it } from 'vitest';
import { GROUPS, main } from './main.ts';

const SUBCOMMANDS: Record<string, string[]> = {
  model: ['quantize', 'profile', 'push', 'inspect', 'keygen', 'sign', 'verify'],
  simulate: [],
  certs: [],
  token: ['create', 'list', 'delete'],
  node: ['revoke'],
  creds: ['client', 'leaf'],
};

async function run(argv: string[]): Promise<{ code: number; text: string }> {
  let text = '';
  const io = { out: (t: string) => void (text += t), err: (t: string) => void (text += t) };
  return { code: await main(argv, io), text };
}

describe('edgeplane --help', () => {
  it('lists every group', async () => {
    const { code, text } = await run(['--help']);
    expect(code).toBe(0);
    for (const g of GROUPS) expect(text).toContain(g.name);
    expect(Object.keys(SUBCOMMANDS).sort()).toEqual(GROUPS.map((g) => g.name).sort());
  });

  for (const [group, subs] of Object.entries(SUBCOMMANDS)) {
    for (const argv of [[group, '--help'], ...subs.flatMap((s) => [[group, s, '--help'], [group, s, '-h']])]) {
      it(`edgeplane ${argv.join(' ')} exits 0 with a usage`, async () => {
        const { code, text } = await run(argv);
        expect(code, text).toBe(0);
        expect(text).toMatch(/usage|--/i);
        if (argv.length === 3) expect(text).toContain(argv[1]!);
      });
    }
  }
});

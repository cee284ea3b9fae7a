import { describe, expect, it, vi } from 'vitest';
import pkg from '../package.json' with { type: 'json' };
import { main } from './main.ts';

describe('control plane --version', () => {
  it('prints the package version and exits 0 without reading any setting', async () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      // An invalid setting beside it: --version still answers.
      expect(await main(['--version', '--nats-url', 'not a url'], {})).toBe(0);
      expect(String(write.mock.calls[0]?.[0])).toMatch(new RegExp(`^edgeplane-control-plane ${pkg.version.replace(/\./g, '\\.')} \\(node \\d+`));
    } finally {
      write.mockRestore();
    }
  });
});

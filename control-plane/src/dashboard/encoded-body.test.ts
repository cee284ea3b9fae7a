import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { chooseEncoding, EncodedBody } from './encoded-body.ts';

describe('chooseEncoding', () => {
  it('prefers brotli, then gzip, as browsers and curl ask', () => {
    expect(chooseEncoding('gzip, deflate, br, zstd')).toBe('br');
    expect(chooseEncoding('gzip, deflate')).toBe('gzip');
    expect(chooseEncoding(['gzip', 'br;q=0.5'])).toBe('gzip');
    expect(chooseEncoding('*')).toBe('br');
  });

  it('answers identity when nothing it makes is allowed', () => {
    expect(chooseEncoding(undefined)).toBe('identity');
    expect(chooseEncoding('')).toBe('identity');
    expect(chooseEncoding('identity')).toBe('identity');
    expect(chooseEncoding('deflate')).toBe('identity');
    expect(chooseEncoding('br;q=0, gzip;q=0')).toBe('identity');
    expect(chooseEncoding('*, br;q=0')).toBe('gzip');
    expect(chooseEncoding('gzip;q=nonsense')).toBe('identity');
  });
});

describe('EncodedBody', () => {
  const text = JSON.stringify({ nodes: Array.from({ length: 500 }, (_, i) => ({ name: `n-${i}`, ready: true })) });

  it('encodes each version once per encoding, and again for a new version', async () => {
    const body = new EncodedBody();
    let made = 0;
    const make = () => (made++, text);
    const br = await body.get(1, make, 'br');
    expect(br.encoding).toBe('br');
    expect(brotliDecompressSync(br.body).toString()).toBe(text);
    const gz = await body.get(1, make, 'gzip');
    expect(gunzipSync(gz.body).toString()).toBe(text);
    expect((await body.get(1, make, 'br')).body).toBe(br.body);
    expect((await body.get(1, make, 'identity')).body.toString()).toBe(text);
    expect(made).toBe(1);
    expect(br.body.length).toBeLessThan(text.length / 5);

    const next = await body.get(2, () => (made++, '{"nodes":[]}'), 'br');
    expect(made).toBe(2);
    // Too small to gain from compression: sent as it is, and said so.
    expect(next).toEqual({ encoding: 'identity', body: Buffer.from('{"nodes":[]}') });
  });
});

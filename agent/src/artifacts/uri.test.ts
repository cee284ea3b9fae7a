import { describe, expect, it } from 'vitest';
import { isUnsupportedUriError } from '../workloads/errors.ts';
import { parseArtifactUri } from './uri.ts';

describe('parseArtifactUri', () => {
  const good = [
    { uri: 'file:///var/lib/models/a.onnx', want: { scheme: 'file', path: '/var/lib/models/a.onnx' } },
    { uri: 'nats-obj://ep-models/resnet/int8.onnx', want: { scheme: 'nats-obj', bucket: 'ep-models', object: 'resnet/int8.onnx' } },
    { uri: 'nats-obj://ep-models/a%20b.onnx', want: { scheme: 'nats-obj', bucket: 'ep-models', object: 'a b.onnx' } },
  ];
  for (const c of good) it(`parses ${c.uri}`, () => expect(parseArtifactUri(c.uri)).toEqual(c.want));

  it('parses https into a URL', () => {
    const u = parseArtifactUri('https://models.example/x.onnx');
    expect(u.scheme === 'https' && u.url.pathname).toBe('/x.onnx');
  });

  const bad = ['http://models.example/x.onnx', 's3://b/x', 'nats-obj://ep-models/', 'nats-obj://bad.bucket/x', 'file://remote-host/x', 'not a uri'];
  for (const uri of bad) {
    it(`refuses ${uri}`, () => {
      let err: unknown;
      try {
        parseArtifactUri(uri);
      } catch (e) {
        err = e;
      }
      expect(isUnsupportedUriError(err)).toBe(true);
    });
  }
});

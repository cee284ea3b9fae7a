// `edgeplane model push` against a real nats-server with JetStream: uploads every variant into
// the ep-models object store, prints nats-obj:// URIs, and resumes by skipping stored digests.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { EdgeModelDeploymentSpec } from '@edgeplane/api';
import { startNats, freePort, type NatsServer } from '@edgeplane/env';
import { main } from '../../cli/src/main.ts';
import { tinyModelBytes } from '../../cli/src/model/testing/tiny-model.ts';

let nats: NatsServer;
let nc: NatsConnection;
let work: string;
let dir: string;
/** `--nats-url`, `--nats-creds` (an administrator's: writing the store is not a node's right) and `--nats-ca`. */
let natsFlags: string[];

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

async function store(): Promise<ObjectStore> {
  return new Objm(jetstream(nc)).open('ep-models');
}

beforeAll(async () => {
  nats = await startNats({ jetstream: true });
  nc = await connect(await nats.connectOptions('admin'));
  natsFlags = ['--nats-url', nats.url, '--nats-creds', await nats.credsFile('admin'), '--nats-ca', nats.caFile!];
  work = mkdtempSync(join(tmpdir(), 'ep-push-'));
  writeFileSync(join(work, 'tiny.onnx'), tinyModelBytes());
  dir = join(work, 'variants');
  const q = await cli('model', 'quantize', join(work, 'tiny.onnx'), '--out', dir, '--shape', 'x=1x3x16x16', '--calibration', '4');
  expect(q.code, q.err).toBe(0);
  const p = await cli('model', 'profile', dir, '--samples', '8', '--runs', '3', '--budget-ms', '200');
  expect(p.code, p.err).toBe(0);
});

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('edgeplane model push', () => {
  it('uploads every variant and prints nats-obj URIs that parse as a deployment spec', async () => {
    const res = await cli('model', 'push', dir, ...natsFlags);
    expect(res.code, res.err).toBe(0);
    expect(res.err).toMatch(/100%/);
    const block = parse(res.out) as { model: unknown };
    const spec = EdgeModelDeploymentSpec.parse({ model: block.model, slo: { latencyMs: 20 } });
    expect(spec.model.variants.map((v) => v.uri)).toEqual(['fp32', 'fp16', 'int8', 'int8-static'].map((v) => `nats-obj://ep-models/tiny-${v}.onnx`));
    const os = await store();
    for (const v of spec.model.variants) {
      const object = v.uri.replace('nats-obj://ep-models/', '');
      const bytes = await os.getBlob(object);
      expect(bytes?.byteLength).toBe(v.sizeBytes);
      expect(createHash('sha256').update(bytes ?? new Uint8Array()).digest('hex')).toBe(v.sha256);
    }
  });

  it('resumes: skips objects whose digest matches and re-sends only what is missing', async () => {
    const os = await store();
    await os.delete('tiny-int8.onnx');
    const res = await cli('model', 'push', dir, ...natsFlags);
    expect(res.code, res.err).toBe(0);
    expect(res.err.match(/skipped/g)).toHaveLength(3);
    expect(res.err).toMatch(/tiny-int8\.onnx: 100%/);
    const info = await os.info('tiny-int8.onnx');
    expect(info?.size).toBe(readFileSync(join(dir, 'tiny-int8.onnx')).byteLength);
  });

  it('is refused without credentials, and names the flag of a file it cannot read', async () => {
    const anonymous = await cli('model', 'push', dir, '--nats-url', nats.url, '--nats-ca', nats.caFile!);
    expect(anonymous.code).toBe(1);
    expect(anonymous.err).toMatch(/PUSH_FAILED/);
    expect(anonymous.out).toBe('');
    const missing = await cli('model', 'push', dir, '--nats-url', nats.url, '--nats-creds', join(work, 'no-such.creds'));
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/--nats-creds: cannot read .*no-such\.creds: ENOENT \[BAD_ARGUMENT\]/);
  });

  it('fails cleanly with no output when NATS is unreachable', async () => {
    const res = await cli('model', 'push', dir, '--nats-url', `nats://127.0.0.1:${await freePort()}`);
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/PUSH_FAILED/);
    expect(res.out).toBe('');
  });
});

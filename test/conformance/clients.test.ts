// Conformance with Open Inference Protocol clients written elsewhere: Triton's Python client
// (HTTP and gRPC), the KServe SDK's REST and gRPC clients and perf_analyzer, from PyPI in a
// cached virtualenv, against a real agent serving an FP32 and an FP16 model. Each check the
// scripts make is a test here; a check the script did not report fails too. Without the
// virtualenv (no Python, no index), the suite is skipped with the reason in its name.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '@edgeplane/env';
import { tinyModel } from '../../agent/src/runtime/fixtures/tiny-models.ts';
import { pythonEnv } from '@edgeplane/env';
import { runChecks, type CheckLine } from './checks.ts';
import { startServingAgent, type ServingAgent } from '@edgeplane/env/serving-agent';

const setup = await pythonEnv();
const MODELS = [
  { name: 'tiny', datatype: 'FP32', version: 'fp32' },
  { name: 'tiny16', datatype: 'FP16', version: 'fp16' },
] as const;

function tritonChecks(protocol: 'http' | 'grpc'): string[] {
  const names = ['server live', 'server ready', 'server metadata'];
  for (const m of MODELS) {
    names.push(`model metadata ${m.name}`, `model metadata ${m.name} by version`, `model config ${m.name}`, `model ready ${m.name}`, `model ready ${m.name} by version`);
    for (const batch of [1, 8]) {
      if (protocol === 'http') {
        for (const [i, o] of [['JSON', 'JSON'], ['binary', 'binary'], ['binary', 'JSON'], ['JSON', 'binary']]) names.push(`infer ${m.name} batch ${batch} ${i} in, ${o} out`);
      } else names.push(`infer ${m.name} batch ${batch}`);
    }
    names.push(`infer ${m.name} by version`, `infer ${m.name} without naming outputs`);
  }
  return [...names, 'wrong shape refused', 'unknown model refused', 'unknown model metadata refused', 'unknown model not ready'];
}

function kserveChecks(): string[] {
  const names = ['REST server live', 'REST server ready', 'gRPC server live', 'gRPC server ready'];
  for (const m of MODELS) {
    names.push(`REST model ready ${m.name}`, `gRPC model ready ${m.name}`);
    for (const batch of [1, 8]) {
      // The SDK refuses FP16 as JSON itself ("use the binary data format"), before sending.
      if (m.datatype === 'FP32') names.push(`REST infer ${m.name} batch ${batch} JSON`);
      names.push(`REST infer ${m.name} batch ${batch} binary`, `gRPC infer ${m.name} batch ${batch}`);
    }
  }
  return [...names, 'REST model ready, unknown model', 'REST wrong shape refused', 'REST unknown model refused', 'gRPC wrong shape refused', 'gRPC unknown model refused'];
}

if (!setup.ok) {
  describe('Open Inference Protocol conformance', () => {
    it.skip(`skipped: ${setup.reason}`, () => undefined);
  });
} else {
  const { python, perfAnalyzer, perfAnalyzerMissing } = setup.env;

  describe('Open Inference Protocol conformance', () => {
    let agent: ServingAgent;
    let dir: Awaited<ReturnType<typeof tempDir>>;
    const paths = { fp32: '', fp16: '' };
    const results = new Map<string, Map<string, CheckLine>>();

    beforeAll(async () => {
      dir = await tempDir('ep-conformance-');
      const fp32 = tinyModel({ precision: 'fp32' }).bytes;
      const fp16 = tinyModel({ precision: 'fp16' }).bytes;
      paths.fp32 = join(dir.path, 'tiny.onnx');
      paths.fp16 = join(dir.path, 'tiny16.onnx');
      writeFileSync(paths.fp32, fp32);
      writeFileSync(paths.fp16, fp16);
      agent = await startServingAgent([
        { name: 'tiny', precision: 'fp32', bytes: fp32 },
        { name: 'tiny16', precision: 'fp16', bytes: fp16 },
      ]);
      const hostPort = agent.httpUrl.replace(/^http:\/\//, '');
      // One after the other: two cores, and the agent is what is under test.
      results.set('triton http', (await runChecks(python, 'triton_check.py', ['http', hostPort, paths.fp32, paths.fp16])).checks);
      results.set('triton grpc', (await runChecks(python, 'triton_check.py', ['grpc', agent.grpcAddress, paths.fp32, paths.fp16])).checks);
      results.set('kserve', (await runChecks(python, 'kserve_check.py', [agent.httpUrl, agent.grpcAddress, paths.fp32, paths.fp16])).checks);
    }, 240_000);

    afterAll(async () => {
      await agent?.stop();
      await dir?.remove();
    });

    const expectCheck = (suite: string, name: string) => {
      const c = results.get(suite)?.get(name);
      expect(c, `${suite}: the script reported no check "${name}"`).toBeDefined();
      expect(c!.ok, `${suite}: ${name}: ${c!.detail}`).toBe(true);
    };

    describe('tritonclient.http', () => {
      for (const name of tritonChecks('http')) it(name, () => expectCheck('triton http', name));
    });
    describe('tritonclient.grpc', () => {
      for (const name of tritonChecks('grpc')) it(name, () => expectCheck('triton grpc', name));
    });
    describe('kserve SDK (InferenceRESTClient, InferenceGRPCClient)', () => {
      for (const name of kserveChecks()) it(name, () => expectCheck('kserve', name));
    });

    describe('perf_analyzer', () => {
      for (const protocol of ['http', 'grpc'] as const) {
        // This checks that perf_analyzer can drive the agent, not the figures: on a shared machine
        // three windows in a row rarely agree within its default 10%, so any agreement is accepted.
        it.skipIf(!perfAnalyzer)(`${protocol}: a short run completes with throughput above zero${perfAnalyzer ? '' : ` (skipped: ${perfAnalyzerMissing})`}`, async () => {
          const url = protocol === 'http' ? agent.httpUrl.replace(/^http:\/\//, '') : agent.grpcAddress;
          const csv = join(dir.path, `pa-${protocol}.csv`);
          const { stdout } = await promisify(execFile)(
            perfAnalyzer!,
            ['-m', 'tiny', '--service-kind', 'triton', '-i', protocol, '-u', url, '-b', '1', '--shape', 'X:4', '--concurrency-range', '1:2', '--measurement-interval', '1000', '--stability-percentage', '1000', '-f', csv],
            { timeout: 90_000 },
          );
          const { readFileSync } = await import('node:fs');
          const [header, ...rows] = readFileSync(csv, 'utf8').trim().split('\n');
          const cols = header!.split(',');
          const byConcurrency = new Map(rows.map((r) => [Number(r.split(',')[cols.indexOf('Concurrency')]), Number(r.split(',')[cols.indexOf('Inferences/Second')])]));
          expect([...byConcurrency.keys()].sort(), stdout).toEqual([1, 2]);
          for (const throughput of byConcurrency.values()) expect(throughput).toBeGreaterThan(0);
        }, 120_000);
      }
    });
  });
}

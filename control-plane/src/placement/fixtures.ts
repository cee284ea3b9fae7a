// Builders for placement inputs in tests and benchmarks: a spec through the real schema (so
// defaults apply as in the cluster) and nodes with sensible defaults.
import { EdgeModelDeploymentSpec } from '@edgeplane/api';
import type { Accelerator } from '@edgeplane/api';
import type { z } from 'zod';
import type { NodeView } from './types.ts';

export type SpecInput = z.input<typeof EdgeModelDeploymentSpec>;
type VariantInput = SpecInput['model']['variants'][number];

/** A 64-hex digest derived from a short tag, so tests can name artifacts. */
export function sha(tag: string): string {
  let hex = '';
  for (const ch of tag) hex += ch.charCodeAt(0).toString(16).padStart(2, '0');
  return hex.padEnd(64, '0').slice(0, 64);
}

export function variant(name: string, fields: Partial<VariantInput> = {}): VariantInput {
  return {
    name,
    precision: 'fp32',
    profile: 'full',
    uri: `nats-obj://ep-models/${name}`,
    sha256: sha(name),
    sizeBytes: 20_000_000,
    accuracy: 0.8,
    gflops: 4,
    memoryMiB: 100,
    ...fields,
  };
}

/** Three precisions of a full model and one lite int8, as most tests want. */
export function standardVariants(): VariantInput[] {
  return [
    variant('m-fp32', { precision: 'fp32', accuracy: 0.9, memoryMiB: 400, sizeBytes: 100_000_000 }),
    variant('m-fp16', { precision: 'fp16', accuracy: 0.88, memoryMiB: 200, sizeBytes: 50_000_000 }),
    variant('m-int8', { precision: 'int8', accuracy: 0.85, memoryMiB: 100, sizeBytes: 25_000_000 }),
    variant('m-lite', { precision: 'int8', profile: 'lite', accuracy: 0.8, gflops: 1, memoryMiB: 50, sizeBytes: 5_000_000 }),
  ];
}

export function makeSpec(fields: Partial<SpecInput> = {}): EdgeModelDeploymentSpec {
  return EdgeModelDeploymentSpec.parse({
    model: { name: 'detector', task: 'detection', variants: standardVariants() },
    replicas: 1,
    slo: { latencyMs: 50 },
    ...fields,
  });
}

export function gpu(fields: Partial<Accelerator> = {}): Accelerator {
  return { id: 'gpu0', type: 'GPU', memoryMiB: 8192, precisions: ['fp32', 'fp16', 'int8'], tops: { fp32: 10, fp16: 20, int8: 40 }, watts: 30, ...fields };
}

export function cpu(fields: Partial<Accelerator> = {}): Accelerator {
  return { id: 'cpu0', type: 'CPU', memoryMiB: 4096, precisions: ['fp32', 'int8'], tops: { fp32: 0.5, int8: 2 }, watts: 15, ...fields };
}

export function npu(fields: Partial<Accelerator> = {}): Accelerator {
  return { id: 'npu0', type: 'NPU', memoryMiB: 1024, precisions: ['int8'], tops: { int8: 6 }, watts: 5, ...fields };
}

export function node(name: string, fields: Partial<NodeView> = {}): NodeView {
  return {
    name,
    labels: {},
    unschedulable: false,
    ready: true,
    accelerators: [gpu()],
    power: { source: 'mains' },
    network: { type: 'ethernet', bandwidthMbps: 1000 },
    cachedArtifacts: new Set(),
    measuredP99Ms: new Map(),
    utilization: new Map(),
    ...fields,
  };
}

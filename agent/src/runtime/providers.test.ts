import type { Accelerator } from '@edgeplane/api';
import { describe, expect, it } from 'vitest';
import { providerPlan } from './providers.ts';

const acc = (over: Partial<Accelerator>): Accelerator => ({ id: 'x0', type: 'CPU', memoryMiB: 1024, precisions: ['fp32'], tops: {}, ...over });
const ALL = ['cpu', 'cuda', 'tensorrt'];

describe('providerPlan', () => {
  const cases: { name: string; a: Accelerator; available?: string[]; want: string[][]; skipped?: RegExp }[] = [
    { name: 'CPU runs on cpu', a: acc({}), want: [['cpu']] },
    { name: 'NVIDIA GPU tries cuda, then cpu', a: acc({ type: 'GPU', vendor: 'NVIDIA' }), want: [['cuda'], ['cpu']] },
    { name: 'GPU with TensorRT tries tensorrt+cuda first', a: acc({ type: 'GPU', vendor: 'NVIDIA', features: ['cuda', 'tensorrt'] }), want: [['tensorrt', 'cuda'], ['cpu']] },
    { name: 'Jetson DLA runs through TensorRT', a: acc({ type: 'NPU', vendor: 'NVIDIA', model: 'DLA', features: ['tensorrt'] }), want: [['tensorrt'], ['cpu']] },
    { name: 'Ascend NPU wants CANN, absent from this build', a: acc({ type: 'NPU', vendor: 'Huawei', model: 'Ascend 310' }), want: [['cpu']], skipped: /cann provider is not in this ONNX Runtime build/ },
    { name: 'Intel VPU wants OpenVINO', a: acc({ type: 'VPU', vendor: 'Intel', model: 'Movidius Myriad X' }), available: [...ALL, 'openvino'], want: [['openvino'], ['cpu']] },
    { name: 'Coral TPU has no provider', a: acc({ type: 'TPU', vendor: 'Google', model: 'Coral' }), want: [['cpu']], skipped: /no execution provider for TPU Google Coral/ },
    { name: 'CUDA missing from the build', a: acc({ type: 'GPU', vendor: 'NVIDIA' }), available: ['cpu'], want: [['cpu']], skipped: /cuda provider/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = providerPlan(c.a, c.available ?? ALL);
      expect(plan.attempts).toEqual(c.want);
      if (c.skipped) expect(plan.skipped).toMatch(c.skipped);
      else expect(plan.skipped).toBeUndefined();
    });
  }
});

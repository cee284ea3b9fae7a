// Which ONNX Runtime execution providers to try for an accelerator, in order. The last
// attempt is always ['cpu']: a provider list such as ['cuda', 'cpu'] throws when CUDA does
// not load instead of falling back, so the fallback is a separate attempt.
import type { Accelerator } from '@edgeplane/api';

export interface ProviderPlan {
  /** Provider lists to try in order; the last is ['cpu']. */
  attempts: string[][];
  /** Why the accelerator's own provider is not tried at all, when it is not. */
  skipped?: string;
}

const has = (a: Accelerator, re: RegExp) => re.test(`${a.vendor ?? ''} ${a.model ?? ''}`);

/** The provider names ONNX Runtime uses for this accelerator, best first; empty when none exists. */
export function providersFor(a: Accelerator): string[] {
  const features = new Set(a.features ?? []);
  switch (a.type) {
    case 'CPU':
      return [];
    case 'GPU':
      if (has(a, /nvidia|jetson|tegra/i) || features.has('cuda')) return features.has('tensorrt') ? ['tensorrt', 'cuda'] : ['cuda'];
      return [];
    case 'NPU':
      if (has(a, /huawei|ascend/i)) return ['cann'];
      if (has(a, /qualcomm|hexagon|snapdragon/i)) return ['qnn'];
      if (has(a, /nvidia|jetson|dla/i)) return features.has('tensorrt') ? ['tensorrt'] : [];
      return [];
    case 'VPU':
      return has(a, /intel|movidius|myriad/i) ? ['openvino'] : [];
    case 'DSP':
      return has(a, /qualcomm|hexagon/i) ? ['qnn'] : [];
    case 'FPGA':
      return has(a, /xilinx|amd/i) ? ['vitisai'] : [];
    case 'TPU':
      return [];
  }
}

/** `available`: provider names this build of ONNX Runtime knows (listSupportedBackends). */
export function providerPlan(a: Accelerator, available: readonly string[]): ProviderPlan {
  const wanted = providersFor(a);
  if (a.type === 'CPU') return { attempts: [['cpu']] };
  if (wanted.length === 0) {
    return { attempts: [['cpu']], skipped: `ONNX Runtime has no execution provider for ${a.type} ${a.vendor ?? ''} ${a.model ?? ''}`.replace(/\s+/g, ' ').trim() };
  }
  const usable = wanted.filter((p) => available.includes(p));
  if (usable.length === 0) {
    return { attempts: [['cpu']], skipped: `${wanted.join('/')} provider is not in this ONNX Runtime build` };
  }
  return { attempts: [usable, ['cpu']] };
}

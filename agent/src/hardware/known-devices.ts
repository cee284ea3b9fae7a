// Peak figures of accelerators the probes can recognise, from the vendors' data sheets.
// They are what placement scores with until measured latencies replace them; the override
// file corrects any of them for a given node.
import type { AcceleratorType, Precision, Tops } from '@edgeplane/api';

export interface KnownDevice {
  type: AcceleratorType;
  vendor: string;
  model: string;
  precisions: Precision[];
  tops: Tops;
  /** Typical power under load, watts. */
  watts?: number;
  /** Dedicated memory, MiB; 0 when the device shares host memory. */
  memoryMiB: number;
  features?: string[];
}

export const KNOWN_DEVICES = {
  // Huawei Atlas 200 / Ascend 310: 16 TOPS int8, 8 TFLOPS fp16 at 8 W; 8 GB LPDDR4X on the module.
  ascend310: { type: 'NPU', vendor: 'Huawei', model: 'Ascend 310', precisions: ['fp16', 'int8'], tops: { fp16: 8, int8: 16 }, watts: 8, memoryMiB: 8192, features: ['cann'] },
  // Jetson AGX Xavier: 512-core Volta GPU with tensor cores, ~11 TFLOPS fp16 / 22 TOPS int8,
  // ~1.4 TFLOPS fp32; unified memory, so the GPU reports the host's.
  jetsonAgxXavierGpu: { type: 'GPU', vendor: 'NVIDIA', model: 'Jetson AGX Xavier GPU (Volta)', precisions: ['fp32', 'fp16', 'int8'], tops: { fp32: 1.4, fp16: 11, int8: 22 }, watts: 20, memoryMiB: 0, features: ['cuda', 'tensorrt'] },
  // Jetson AGX Xavier has 2 NVDLA v1 engines, each ~2.5 TFLOPS fp16 / 5 TOPS int8.
  jetsonAgxXavierDla: { type: 'NPU', vendor: 'NVIDIA', model: 'NVDLA v1', precisions: ['fp16', 'int8'], tops: { fp16: 2.5, int8: 5 }, watts: 2.5, memoryMiB: 0, features: ['tensorrt'] },
  // Jetson Nano: 128-core Maxwell GPU, 472 GFLOPS fp16, 5-10 W module, no DLA.
  jetsonNanoGpu: { type: 'GPU', vendor: 'NVIDIA', model: 'Jetson Nano GPU (Maxwell)', precisions: ['fp32', 'fp16'], tops: { fp32: 0.236, fp16: 0.472 }, watts: 10, memoryMiB: 0, features: ['cuda', 'tensorrt'] },
  // Tesla T4: 8.1 TFLOPS fp32, 65 TFLOPS fp16, 130 TOPS int8, 70 W, 16 GB.
  teslaT4: { type: 'GPU', vendor: 'NVIDIA', model: 'Tesla T4', precisions: ['fp32', 'fp16', 'int8'], tops: { fp32: 8.1, fp16: 65, int8: 130 }, watts: 70, memoryMiB: 16384, features: ['cuda', 'tensorrt'] },
  // Intel Neural Compute Stick 2 (Movidius Myriad X): ~1 TOPS of DNN compute in fp16, about 1-2 W, 4 Gbit LPDDR4.
  ncs2: { type: 'VPU', vendor: 'Intel', model: 'Movidius Myriad X (NCS2)', precisions: ['fp16'], tops: { fp16: 1 }, watts: 1.5, memoryMiB: 512, features: ['openvino'] },
  // Google Coral Edge TPU: 4 TOPS int8 at 2 W (0.5 W per TOPS), 8 MB on-chip SRAM.
  edgeTpu: { type: 'TPU', vendor: 'Google', model: 'Coral Edge TPU', precisions: ['int8'], tops: { int8: 4 }, watts: 2, memoryMiB: 8, features: ['edgetpu'] },
  // Rockchip RK3588 NPU: 6 TOPS int8 over 3 cores; RK3566/RK3568: 1 TOPS.
  rk3588Npu: { type: 'NPU', vendor: 'Rockchip', model: 'RK3588 NPU', precisions: ['fp16', 'int8'], tops: { fp16: 1.5, int8: 6 }, watts: 3, memoryMiB: 0, features: ['rknn'] },
  rk356xNpu: { type: 'NPU', vendor: 'Rockchip', model: 'RK356x NPU', precisions: ['fp16', 'int8'], tops: { fp16: 0.25, int8: 1 }, watts: 1, memoryMiB: 0, features: ['rknn'] },
  // Hailo-8: 26 TOPS int8 at about 2.5 W typical (Hailo-8L: 13 TOPS; correct it with the override file).
  hailo8: { type: 'NPU', vendor: 'Hailo', model: 'Hailo-8', precisions: ['int8'], tops: { int8: 26 }, watts: 2.5, memoryMiB: 0, features: ['hailort'] },
} satisfies Record<string, KnownDevice>;

/** USB vendor:product ids of accelerators on USB (before and after their firmware loads). */
export const USB_DEVICES: Record<string, KnownDevice> = {
  '03e7:2485': KNOWN_DEVICES.ncs2,
  '03e7:f63b': KNOWN_DEVICES.ncs2,
  '1a6e:089a': KNOWN_DEVICES.edgeTpu,
  '18d1:9302': KNOWN_DEVICES.edgeTpu,
};

/** Discrete NVIDIA GPUs by the model string of /proc/driver/nvidia/gpus/<bus>/information. */
export function knownNvidiaGpu(model: string): KnownDevice | undefined {
  if (/\bT4\b/.test(model)) return KNOWN_DEVICES.teslaT4;
  return undefined;
}

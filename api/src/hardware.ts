import { z } from 'zod';

/** Numeric precision a model variant is stored and run in, best accuracy first. */
export const PRECISIONS = ['fp32', 'fp16', 'int8'] as const;
export const Precision = z.enum(PRECISIONS);
export type Precision = z.infer<typeof Precision>;

/** Model variant profile: `lite` is the smaller, faster-to-fetch model. */
export const PROFILES = ['full', 'lite'] as const;
export const Profile = z.enum(PROFILES);
export type Profile = z.infer<typeof Profile>;

export const ACCELERATOR_TYPES = ['CPU', 'GPU', 'NPU', 'VPU', 'TPU', 'DSP', 'FPGA'] as const;
export const AcceleratorType = z.enum(ACCELERATOR_TYPES);
export type AcceleratorType = z.infer<typeof AcceleratorType>;

/** Peak throughput in tera-operations per second, per precision. */
export const Tops = z.object({
  fp32: z.number().min(0).optional().describe('Peak tera-operations per second at FP32.'),
  fp16: z.number().min(0).optional().describe('Peak tera-operations per second at FP16.'),
  int8: z.number().min(0).optional().describe('Peak tera-operations per second at INT8.'),
});
export type Tops = z.infer<typeof Tops>;

export const Accelerator = z.object({
  id: z.string().min(1).max(63).describe('Accelerator id, stable within a node, e.g. `cpu0`, `gpu0`, `npu0`.'),
  type: AcceleratorType.describe('Accelerator class: CPU, GPU, NPU, VPU, TPU, DSP or FPGA.'),
  vendor: z.string().max(128).optional().describe('Vendor as discovery reports it, e.g. `NVIDIA`, `Intel`.'),
  model: z.string().max(256).optional().describe('Device or CPU model name.'),
  memoryMiB: z.int().min(0).describe('Memory the accelerator can give to models, MiB.'),
  precisions: z.array(Precision).min(1).max(3).describe('Precisions the accelerator runs: fp32, fp16, int8.'),
  tops: Tops.describe('Peak throughput per precision, tera-operations per second.'),
  watts: z.number().min(0).optional().describe('Power draw under load, watts.'),
  features: z
    .array(z.string().max(64))
    .max(64)
    .optional()
    .describe('ISA or driver features worth scheduling on, e.g. avx512_vnni, amx, asimddp, cuda, tensorrt.'),
});
export type Accelerator = z.infer<typeof Accelerator>;

export const POWER_SOURCES = ['mains', 'battery', 'solar'] as const;
export const PowerSource = z.enum(POWER_SOURCES);

export const Power = z.object({
  source: PowerSource.describe('Where the node draws its power: mains, battery or solar.'),
  batteryPercent: z.number().min(0).max(100).optional().describe('Battery charge, percent; absent on mains.'),
  charging: z.boolean().optional().describe('True while the battery is charging.'),
});
export type Power = z.infer<typeof Power>;

export const LINK_TYPES = ['ethernet', 'wifi', 'cellular-5g', 'cellular-4g', 'lora'] as const;
export const LinkType = z.enum(LINK_TYPES);
export type LinkType = z.infer<typeof LinkType>;

export const Network = z.object({
  type: LinkType.describe('Uplink class: ethernet, wifi, cellular-5g, cellular-4g or lora.'),
  bandwidthMbps: z.number().min(0).optional().describe('Measured uplink bandwidth, megabits per second.'),
  rttMs: z.number().min(0).optional().describe('Round-trip time over the uplink, milliseconds.'),
  metered: z.boolean().optional().describe('True when traffic on the link is billed by volume.'),
});
export type Network = z.infer<typeof Network>;

/** What discovery reports about the host beyond its accelerators. */
export const HostInfo = z.object({
  arch: z.string().max(32).describe('CPU architecture, e.g. `x86_64`, `arm64`, `arm`.'),
  cpuModel: z.string().max(256).optional().describe('CPU model name.'),
  cores: z.int().min(1).optional().describe('Logical CPU cores.'),
  memoryMiB: z.int().min(0).optional().describe('Total host memory, MiB.'),
  os: z.string().max(128).optional().describe('Operating system and release.'),
});
export type HostInfo = z.infer<typeof HostInfo>;

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
  fp32: z.number().min(0).optional(),
  fp16: z.number().min(0).optional(),
  int8: z.number().min(0).optional(),
});
export type Tops = z.infer<typeof Tops>;

export const Accelerator = z.object({
  /** Stable within a node, e.g. `cpu0`, `gpu0`, `npu0`. */
  id: z.string().min(1).max(63),
  type: AcceleratorType,
  vendor: z.string().max(128).optional(),
  model: z.string().max(256).optional(),
  memoryMiB: z.int().min(0),
  precisions: z.array(Precision).min(1).max(3),
  tops: Tops,
  /** Power draw under load, watts. */
  watts: z.number().min(0).optional(),
  /** ISA or driver features worth scheduling on (avx512_vnni, amx, asimddp, cuda, tensorrt). */
  features: z.array(z.string().max(64)).max(64).optional(),
});
export type Accelerator = z.infer<typeof Accelerator>;

export const POWER_SOURCES = ['mains', 'battery', 'solar'] as const;
export const PowerSource = z.enum(POWER_SOURCES);

export const Power = z.object({
  source: PowerSource,
  batteryPercent: z.number().min(0).max(100).optional(),
  charging: z.boolean().optional(),
});
export type Power = z.infer<typeof Power>;

export const LINK_TYPES = ['ethernet', 'wifi', 'cellular-5g', 'cellular-4g', 'lora'] as const;
export const LinkType = z.enum(LINK_TYPES);
export type LinkType = z.infer<typeof LinkType>;

export const Network = z.object({
  type: LinkType,
  bandwidthMbps: z.number().min(0).optional(),
  rttMs: z.number().min(0).optional(),
  metered: z.boolean().optional(),
});
export type Network = z.infer<typeof Network>;

/** What discovery reports about the host beyond its accelerators. */
export const HostInfo = z.object({
  arch: z.string().max(32),
  cpuModel: z.string().max(256).optional(),
  cores: z.int().min(1).optional(),
  memoryMiB: z.int().min(0).optional(),
  os: z.string().max(128).optional(),
});
export type HostInfo = z.infer<typeof HostInfo>;

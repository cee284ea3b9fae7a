// Hardware profiles of simulated nodes, in one table: what the real agent's discovery reports
// for each kind of device (figures from the agent's fixture trees), plus the measured link
// the agent's bandwidth probe would add.
import type { Accelerator, HostInfo, Network, Power } from '@edgeplane/api';

export interface HardwareProfile {
  name: string;
  description: string;
  host: HostInfo;
  accelerators: readonly Accelerator[];
  power: Power;
  network: Network;
  /**
   * Fraction of peak TOPS a real model reaches on this device, as [low, high]; each node draws
   * its own from this range so measured latencies differ across a fleet.
   */
  efficiency: readonly [number, number];
}

const cpu = (model: string, vendor: string, memoryMiB: number, tops: Accelerator['tops'], watts: number, features: string[]): Accelerator => ({
  id: 'cpu0',
  type: 'CPU',
  vendor,
  model,
  memoryMiB,
  precisions: ['fp32', 'fp16', 'int8'],
  tops,
  watts,
  features,
});

export const PROFILES = {
  jetson: {
    name: 'jetson',
    description: 'Jetson AGX Xavier: Volta GPU and two NVDLA engines, mains, ethernet',
    host: { arch: 'arm64', cores: 8, memoryMiB: 31778, cpuModel: 'NVIDIA Carmel', os: 'Ubuntu 20.04.6 LTS' },
    accelerators: [
      cpu('NVIDIA Carmel', 'NVIDIA', 31778, { fp32: 0.145, fp16: 0.29, int8: 0.29 }, 8, ['neon', 'asimdhp']),
      { id: 'gpu0', type: 'GPU', vendor: 'NVIDIA', model: 'Jetson AGX Xavier GPU (Volta)', memoryMiB: 31778, precisions: ['fp32', 'fp16', 'int8'], tops: { fp32: 1.4, fp16: 11, int8: 22 }, watts: 20, features: ['cuda', 'tensorrt'] },
      { id: 'npu0', type: 'NPU', vendor: 'NVIDIA', model: 'NVDLA v1', memoryMiB: 31778, precisions: ['fp16', 'int8'], tops: { fp16: 2.5, int8: 5 }, watts: 2.5, features: ['tensorrt'] },
    ],
    power: { source: 'mains' },
    network: { type: 'ethernet', bandwidthMbps: 940, rttMs: 2, metered: false },
    efficiency: [0.25, 0.4],
  },
  'x86-vnni': {
    name: 'x86-vnni',
    description: 'Xeon Gold 6230 server with AVX-512 VNNI, mains, ethernet',
    host: { arch: 'x86_64', cores: 8, memoryMiB: 64000, cpuModel: 'Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz', os: 'Ubuntu 22.04.4 LTS' },
    accelerators: [cpu('Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz', 'Intel', 64000, { fp32: 0.269, fp16: 0.269, int8: 1.075 }, 20, ['avx2', 'avx512f', 'avx512_vnni'])],
    power: { source: 'mains' },
    network: { type: 'ethernet', bandwidthMbps: 9400, rttMs: 1, metered: false },
    efficiency: [0.3, 0.45],
  },
  'rpi-battery': {
    name: 'rpi-battery',
    description: 'Raspberry Pi 4 gateway on battery, LTE uplink',
    host: { arch: 'arm64', cores: 4, memoryMiB: 3792, cpuModel: 'Cortex-A72', os: 'Debian GNU/Linux 12 (bookworm)' },
    accelerators: [cpu('Cortex-A72', 'Arm', 3792, { fp32: 0.048, fp16: 0.048, int8: 0.096 }, 4, ['neon'])],
    power: { source: 'battery', batteryPercent: 76, charging: false },
    network: { type: 'cellular-4g', bandwidthMbps: 12, rttMs: 45, metered: true },
    efficiency: [0.2, 0.35],
  },
  ascend: {
    name: 'ascend',
    description: 'Ascend 310 gateway: NPU beside Cortex-A55 cores, mains, ethernet',
    host: { arch: 'arm64', cores: 8, memoryMiB: 7715, cpuModel: 'Cortex-A55', os: 'openEuler 22.03 (LTS-SP1)' },
    accelerators: [
      cpu('Cortex-A55', 'Arm', 7715, { fp32: 0.102, fp16: 0.205, int8: 0.41 }, 8, ['neon', 'asimddp', 'asimdhp']),
      { id: 'npu0', type: 'NPU', vendor: 'Huawei', model: 'Ascend 310', memoryMiB: 8192, precisions: ['fp16', 'int8'], tops: { fp16: 8, int8: 16 }, watts: 8, features: ['cann'] },
    ],
    power: { source: 'mains' },
    network: { type: 'ethernet', bandwidthMbps: 940, rttMs: 3, metered: false },
    efficiency: [0.25, 0.4],
  },
  ncs2: {
    name: 'ncs2',
    description: 'Core i5 mini PC with a Movidius Myriad X (NCS2) on USB, mains, ethernet',
    host: { arch: 'x86_64', cores: 8, memoryMiB: 15831, cpuModel: 'Intel(R) Core(TM) i5-8259U CPU @ 2.30GHz', os: 'Ubuntu 22.04.4 LTS' },
    accelerators: [
      cpu('Intel(R) Core(TM) i5-8259U CPU @ 2.30GHz', 'Intel', 15831, { fp32: 0.243, fp16: 0.243, int8: 0.486 }, 20, ['avx2']),
      { id: 'vpu0', type: 'VPU', vendor: 'Intel', model: 'Movidius Myriad X (NCS2)', memoryMiB: 512, precisions: ['fp16'], tops: { fp16: 1 }, watts: 1.5, features: ['openvino'] },
    ],
    power: { source: 'mains' },
    network: { type: 'ethernet', bandwidthMbps: 940, rttMs: 2, metered: false },
    efficiency: [0.2, 0.35],
  },
  coral: {
    name: 'coral',
    description: 'Cortex-A72 board with a Coral Edge TPU on USB, mains, wifi',
    host: { arch: 'arm64', cores: 4, memoryMiB: 7810, cpuModel: 'Cortex-A72', os: 'Debian GNU/Linux 12 (bookworm)' },
    accelerators: [
      cpu('Cortex-A72', 'Arm', 7810, { fp32: 0.058, fp16: 0.058, int8: 0.115 }, 4, ['neon']),
      { id: 'tpu0', type: 'TPU', vendor: 'Google', model: 'Coral Edge TPU', memoryMiB: 8, precisions: ['int8'], tops: { int8: 4 }, watts: 2, features: ['edgetpu'] },
    ],
    power: { source: 'mains' },
    network: { type: 'wifi', bandwidthMbps: 120, rttMs: 6, metered: false },
    efficiency: [0.2, 0.35],
  },
  'lte-gateway': {
    name: 'lte-gateway',
    description: 'Cortex-A53 gateway on mains with an LTE uplink only',
    host: { arch: 'arm64', cores: 4, memoryMiB: 1961, cpuModel: 'Cortex-A53', os: 'Debian GNU/Linux 11 (bullseye)' },
    accelerators: [cpu('Cortex-A53', 'Arm', 1961, { fp32: 0.038, fp16: 0.038, int8: 0.077 }, 4, ['neon'])],
    power: { source: 'mains' },
    network: { type: 'cellular-4g', bandwidthMbps: 9, rttMs: 55, metered: true },
    efficiency: [0.2, 0.3],
  },
} satisfies Record<string, HardwareProfile>;

export type ProfileName = keyof typeof PROFILES;
export const PROFILE_NAMES = Object.keys(PROFILES) as ProfileName[];

export function isProfileName(name: string): name is ProfileName {
  return Object.hasOwn(PROFILES, name);
}

/** The mix used when none is given: the fleet the issue describes. */
export const DEFAULT_MIX = 'jetson:0.2,x86-vnni:0.3,rpi-battery:0.3,ascend:0.1,ncs2:0.1';

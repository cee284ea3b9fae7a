// Turns parsed cpuinfo into a CPU accelerator with estimated peak throughput.
import type { Accelerator, Tops } from '@edgeplane/api';
import type { CpuInfo } from './cpuinfo.ts';

/** ISA features worth scheduling on, in the names the rest of the system uses. */
export function cpuFeatures(flags: ReadonlySet<string>): string[] {
  const out: string[] = [];
  const add = (name: string, present: boolean) => present && out.push(name);
  add('avx2', flags.has('avx2'));
  add('avx512f', flags.has('avx512f'));
  add('avx512_vnni', flags.has('avx512_vnni'));
  add('avx_vnni', flags.has('avx_vnni'));
  add('avx512_fp16', flags.has('avx512_fp16'));
  add('amx_int8', flags.has('amx_int8'));
  add('amx_tile', flags.has('amx_tile'));
  add('amx_bf16', flags.has('amx_bf16'));
  // On arm64 Advanced SIMD is NEON; 32-bit kernels call it neon.
  add('neon', flags.has('neon') || flags.has('asimd'));
  add('asimddp', flags.has('asimddp'));
  add('asimdhp', flags.has('asimdhp'));
  add('sve', flags.has('sve'));
  add('i8mm', flags.has('i8mm'));
  return out;
}

/**
 * Peak estimate: physical cores x GHz x fp32 SIMD lanes x 2 (a fused multiply-add counts as
 * two operations), one FMA unit per core to stay conservative. int8 dot-product instructions
 * (VNNI vpdpbusd, ARM sdot) do 4 multiply-adds per 32-bit lane, so 4x; without them int8 runs
 * through widening multiplies at about 2x. AMX tiles do 1024 int8 multiply-adds per cycle per
 * core (16x VNNI). fp16 runs at the fp32 rate unless the ISA has native fp16 arithmetic.
 */
export function estimateCpuTops(info: CpuInfo): Tops {
  const f = info.flags;
  const ghz = (info.mhz ?? 1500) / 1000;
  const lanes = f.has('avx512f') ? 16 : f.has('avx2') || f.has('avx') ? 8 : 4;
  const fp32 = info.physical * ghz * lanes * 2;
  const dot = f.has('avx512_vnni') || f.has('avx_vnni') || f.has('asimddp');
  let int8 = fp32 * (dot ? 4 : 2);
  if (f.has('amx_int8')) int8 = info.physical * ghz * 1024 * 2;
  const fp16 = f.has('avx512_fp16') || f.has('asimdhp') ? fp32 * 2 : fp32;
  const tops = (gops: number) => Math.round(gops) / 1000;
  return { fp32: tops(fp32), fp16: tops(fp16), int8: tops(int8) };
}

/** Rough CPU package power: about 5 W per core on servers, 1 W per core on small ARM boards. */
function estimateCpuWatts(info: CpuInfo): number {
  return info.arch === 'x86_64' ? info.physical * 5 : info.physical * 1;
}

export function cpuAccelerator(info: CpuInfo, memoryMiB: number): Accelerator {
  const acc: Accelerator = {
    id: 'cpu0',
    type: 'CPU',
    memoryMiB,
    // ONNX Runtime's CPU provider runs all three; fp16 without native arithmetic costs conversions.
    precisions: ['fp32', 'fp16', 'int8'],
    tops: estimateCpuTops(info),
    watts: estimateCpuWatts(info),
    features: cpuFeatures(info.flags),
  };
  if (info.model) acc.model = info.model;
  const vendor = vendorOf(info);
  if (vendor) acc.vendor = vendor;
  return acc;
}

function vendorOf(info: CpuInfo): string | undefined {
  const m = info.model ?? '';
  if (/intel/i.test(m)) return 'Intel';
  if (/amd|epyc|ryzen/i.test(m)) return 'AMD';
  if (/carmel/i.test(m)) return 'NVIDIA';
  if (/cortex|neoverse/i.test(m)) return 'Arm';
  return undefined;
}

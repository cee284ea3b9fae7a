// Discovery: runs every probe over a root and applies the override file.
import type { Accelerator, HostInfo, Network, Power } from '@edgeplane/api';
import { rootFs, type RootFs } from './rootfs.ts';
import { parseCpuinfo, parseMeminfo, parseOsRelease, type CpuInfo } from './cpuinfo.ts';
import { cpuAccelerator } from './cpu-capability.ts';
import { probeJetson, probeNpus, probeNvidia, probeUsbAndPcie, type FoundDevice } from './accelerators.ts';
import { probePower } from './power.ts';
import { probeNetwork } from './network.ts';
import { applyAcceleratorOverride, applyNetworkOverride, applyPowerOverride, readOverride, type OverrideFile } from './override.ts';

export interface Discovery {
  host: HostInfo;
  accelerators: Accelerator[];
  power: Power;
  network: Network;
}

export interface DiscoverOptions {
  /** Root of /proc, /sys, /dev and /etc; '/' on a real host. */
  root: string;
  /** Path of the override YAML, if any. */
  overrideFile?: string;
}

async function probeCpu(fs: RootFs): Promise<CpuInfo> {
  const info = parseCpuinfo((await fs.text('proc/cpuinfo')) ?? '');
  // The rated maximum beats the momentary `cpu MHz` of an idle, down-clocked core.
  const maxKhz = Number(await fs.text('sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq'));
  if (maxKhz > 0) info.mhz = Math.round(maxKhz / 1000);
  return info;
}

/** Numbers devices per type in discovery order: cpu0, gpu0, gpu1, npu0... */
export function assignIds(devices: readonly FoundDevice[]): Accelerator[] {
  const next = new Map<string, number>();
  return devices.map((d) => {
    const prefix = d.type.toLowerCase();
    const n = next.get(prefix) ?? 0;
    next.set(prefix, n + 1);
    return { id: `${prefix}${n}`, ...d };
  });
}

export async function probeHost(fs: RootFs): Promise<{ host: HostInfo; accelerators: Accelerator[] }> {
  const cpu = await probeCpu(fs);
  const memoryMiB = parseMeminfo((await fs.text('proc/meminfo')) ?? '') ?? 0;
  const osRelease = await fs.text('etc/os-release');
  const host: HostInfo = { arch: cpu.arch, cores: cpu.logical, memoryMiB };
  const cpuModel = cpu.model ?? cpu.board;
  if (cpuModel) host.cpuModel = cpuModel;
  const os = osRelease ? parseOsRelease(osRelease) : undefined;
  if (os) host.os = os;
  const { id: _cpuId, ...cpuDevice } = cpuAccelerator(cpu, memoryMiB);
  const devices: FoundDevice[] = [
    cpuDevice,
    ...(await probeNvidia(fs)),
    ...(await probeJetson(fs, memoryMiB)),
    ...(await probeNpus(fs)),
    ...(await probeUsbAndPcie(fs)),
  ];
  return { host, accelerators: assignIds(devices) };
}

/** Power and link only: cheap enough to re-read every heartbeat interval. */
export async function probeLive(root: string, override: OverrideFile | null): Promise<{ power: Power; network: Network }> {
  const fs = rootFs(root);
  const [power, network] = await Promise.all([probePower(fs), probeNetwork(fs)]);
  return override ? { power: applyPowerOverride(power, override), network: applyNetworkOverride(network, override) } : { power, network };
}

export async function discover(opts: DiscoverOptions): Promise<Discovery & { override: OverrideFile | null }> {
  const fs = rootFs(opts.root);
  const override = opts.overrideFile ? await readOverride(opts.overrideFile) : null;
  const { host, accelerators } = await probeHost(fs);
  const live = await probeLive(opts.root, override);
  return {
    host,
    accelerators: override && opts.overrideFile ? applyAcceleratorOverride(accelerators, override, opts.overrideFile) : accelerators,
    ...live,
    override,
  };
}

// Probes for accelerators beyond the CPU: NVIDIA GPUs, Jetson modules, NPUs, USB and PCIe
// VPUs/TPUs. Each returns devices without ids; discovery numbers them per type.
import { execFile } from 'node:child_process';
import { delimiter, join } from 'node:path';
import { access } from 'node:fs/promises';
import type { Accelerator } from '@edgeplane/api';
import type { RootFs } from './rootfs.ts';
import { KNOWN_DEVICES, USB_DEVICES, knownNvidiaGpu, type KnownDevice } from './known-devices.ts';

export type FoundDevice = Omit<Accelerator, 'id'>;

function fromKnown(d: KnownDevice, memoryMiB = d.memoryMiB): FoundDevice {
  const out: FoundDevice = { type: d.type, vendor: d.vendor, model: d.model, memoryMiB, precisions: [...d.precisions], tops: { ...d.tops } };
  if (d.watts !== undefined) out.watts = d.watts;
  if (d.features) out.features = [...d.features];
  return out;
}

/** Discrete NVIDIA GPUs from the driver's proc files, with memory from nvidia-smi when it can run. */
export async function probeNvidia(fs: RootFs): Promise<FoundDevice[]> {
  const buses = await fs.list('proc/driver/nvidia/gpus');
  const found: FoundDevice[] = [];
  const smi = fs.root === '/' ? await nvidiaSmi() : [];
  for (const [i, bus] of buses.entries()) {
    const info = await fs.text(`proc/driver/nvidia/gpus/${bus}/information`);
    if (info === null) continue;
    const model = /^Model:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? 'NVIDIA GPU';
    const known = knownNvidiaGpu(model);
    const memoryMiB = smi[i]?.memoryMiB ?? known?.memoryMiB ?? 0;
    found.push(
      known
        ? { ...fromKnown(known, memoryMiB), model }
        : { type: 'GPU', vendor: 'NVIDIA', model, memoryMiB, precisions: ['fp32', 'fp16', 'int8'], tops: {}, features: ['cuda'] },
    );
  }
  return found;
}

async function onPath(command: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    try {
      await access(join(dir, command));
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** `nvidia-smi` on the real host only; a fixture root must not pick up the machine's GPUs. */
async function nvidiaSmi(): Promise<{ name: string; memoryMiB: number }[]> {
  if (!(await onPath('nvidia-smi'))) return [];
  return new Promise((resolve) => {
    execFile('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader,nounits'], { timeout: 5000 }, (err, stdout) => {
      if (err) return resolve([]);
      resolve(
        stdout
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((line) => {
            const [name = '', mem = '0'] = line.split(',').map((s) => s.trim());
            return { name, memoryMiB: Number(mem) || 0 };
          }),
      );
    });
  });
}

/** Jetson modules: L4T release file plus the device-tree board name. GPU and DLA share host memory. */
export async function probeJetson(fs: RootFs, hostMemoryMiB: number): Promise<FoundDevice[]> {
  const release = await fs.text('etc/nv_tegra_release');
  if (release === null) return [];
  const board = (await fs.text('proc/device-tree/model')) ?? '';
  if (/AGX Xavier/i.test(board)) {
    return [fromKnown(KNOWN_DEVICES.jetsonAgxXavierGpu, hostMemoryMiB), fromKnown(KNOWN_DEVICES.jetsonAgxXavierDla, hostMemoryMiB), fromKnown(KNOWN_DEVICES.jetsonAgxXavierDla, hostMemoryMiB)];
  }
  if (/Nano/i.test(board)) return [fromKnown(KNOWN_DEVICES.jetsonNanoGpu, hostMemoryMiB)];
  // An unknown module: the GPU is there, its figures come from the override file.
  return [{ type: 'GPU', vendor: 'NVIDIA', model: board || 'Jetson GPU', memoryMiB: hostMemoryMiB, precisions: ['fp32', 'fp16', 'int8'], tops: {}, features: ['cuda', 'tensorrt'] }];
}

/** NPUs visible as device nodes: Ascend (davinciN, one per chip), Rockchip rknpu, Hailo. */
export async function probeNpus(fs: RootFs): Promise<FoundDevice[]> {
  const dev = await fs.list('dev');
  const found: FoundDevice[] = [];
  for (const name of dev) if (/^davinci\d+$/.test(name)) found.push(fromKnown(KNOWN_DEVICES.ascend310));
  if (dev.includes('rknpu')) {
    const compatible = (await fs.text('proc/device-tree/compatible')) ?? '';
    found.push(fromKnown(/rk3588/.test(compatible) ? KNOWN_DEVICES.rk3588Npu : KNOWN_DEVICES.rk356xNpu));
  }
  for (const name of dev) if (/^hailo\d+$/.test(name)) found.push(fromKnown(KNOWN_DEVICES.hailo8));
  return found;
}

/** USB accelerators by vendor:product id, and Coral PCIe/M.2 modules by their apex device nodes. */
export async function probeUsbAndPcie(fs: RootFs): Promise<FoundDevice[]> {
  const found: FoundDevice[] = [];
  for (const entry of await fs.list('sys/bus/usb/devices')) {
    const vendor = await fs.text(`sys/bus/usb/devices/${entry}/idVendor`);
    const product = await fs.text(`sys/bus/usb/devices/${entry}/idProduct`);
    if (vendor === null || product === null) continue;
    const known = USB_DEVICES[`${vendor.toLowerCase()}:${product.toLowerCase()}`];
    if (known) found.push(fromKnown(known));
  }
  for (const name of await fs.list('dev')) if (/^apex_\d+$/.test(name)) found.push(fromKnown(KNOWN_DEVICES.edgeTpu));
  return found;
}

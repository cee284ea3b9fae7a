// Pure parsers for /proc/cpuinfo and /proc/meminfo.

export interface CpuInfo {
  arch: 'x86_64' | 'arm64' | 'arm' | 'unknown';
  /** Marketing name (x86 `model name`) or core name from the ARM part number. */
  model?: string;
  /** Board name some ARM kernels print (`Model : Raspberry Pi 4 Model B`). */
  board?: string;
  /** Logical processors. */
  logical: number;
  /** Physical cores when the file says (x86 `cpu cores` per `physical id`), else logical. */
  physical: number;
  /** Lowercase ISA flags (x86 `flags`, ARM `Features`). */
  flags: Set<string>;
  /** Frequency from `cpu MHz` or the `@ 2.10GHz` suffix of the model name. */
  mhz?: number;
}

// ARM main-ID part numbers (implementer 0x41 = Arm, 0x4e = NVIDIA) for a readable core name.
const ARM_PARTS: Record<string, string> = {
  '0x41:0xd03': 'Cortex-A53',
  '0x41:0xd04': 'Cortex-A35',
  '0x41:0xd05': 'Cortex-A55',
  '0x41:0xd07': 'Cortex-A57',
  '0x41:0xd08': 'Cortex-A72',
  '0x41:0xd09': 'Cortex-A73',
  '0x41:0xd0a': 'Cortex-A75',
  '0x41:0xd0b': 'Cortex-A76',
  '0x41:0xd0c': 'Neoverse-N1',
  '0x41:0xd40': 'Neoverse-V1',
  '0x41:0xd49': 'Neoverse-N2',
  '0x41:0xd4f': 'Neoverse-V2',
  '0x4e:0x004': 'NVIDIA Carmel',
};

/** Splits cpuinfo into one key/value map per blank-line separated block. */
function blocks(text: string): Map<string, string>[] {
  return text
    .split(/\n\s*\n/)
    .map((block) => {
      const fields = new Map<string, string>();
      for (const line of block.split('\n')) {
        const i = line.indexOf(':');
        if (i < 0) continue;
        fields.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
      }
      return fields;
    })
    .filter((b) => b.size > 0);
}

export function parseCpuinfo(text: string): CpuInfo {
  const all = blocks(text);
  const processors = all.filter((b) => b.has('processor'));
  const first = processors[0] ?? all[0] ?? new Map<string, string>();
  const get = (key: string) => first.get(key) ?? all.find((b) => b.has(key))?.get(key);

  const flagText = get('flags') ?? get('features') ?? '';
  const flags = new Set(flagText.toLowerCase().split(/\s+/).filter(Boolean));
  const arch: CpuInfo['arch'] = get('flags') !== undefined ? 'x86_64' : flags.has('asimd') ? 'arm64' : flags.has('neon') || get('cpu architecture') === '7' ? 'arm' : 'unknown';

  const logical = Math.max(1, processors.length);
  const sockets = new Set(processors.map((p) => p.get('physical id')).filter((v) => v !== undefined));
  const coresPerSocket = Number(get('cpu cores'));
  const physical = sockets.size > 0 && coresPerSocket > 0 ? Math.min(logical, sockets.size * coresPerSocket) : logical;

  let model = get('model name');
  const part = `${get('cpu implementer') ?? ''}:${get('cpu part') ?? ''}`.toLowerCase();
  if (!model || /^ARMv\d/i.test(model)) model = ARM_PARTS[part] ?? model;

  let mhz = Number(get('cpu mhz'));
  if (!(mhz > 0)) {
    const ghz = /@\s*([\d.]+)\s*GHz/i.exec(model ?? '');
    mhz = ghz ? Number(ghz[1]) * 1000 : NaN;
  }

  const info: CpuInfo = { arch, logical, physical, flags };
  if (model) info.model = model;
  const board = get('model');
  if (board && arch !== 'x86_64') info.board = board;
  if (mhz > 0) info.mhz = Math.round(mhz);
  return info;
}

/** MemTotal in MiB, or undefined. */
export function parseMeminfo(text: string): number | undefined {
  const m = /^MemTotal:\s+(\d+)\s*kB/m.exec(text);
  return m ? Math.floor(Number(m[1]) / 1024) : undefined;
}

/** PRETTY_NAME from /etc/os-release. */
export function parseOsRelease(text: string): string | undefined {
  const m = /^PRETTY_NAME=("?)(.*)\1$/m.exec(text);
  return m?.[2] || undefined;
}

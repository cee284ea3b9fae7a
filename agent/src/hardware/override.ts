// The declared override file: what no probe can see (a PCIe card without a driver in the
// image, a 5G modem that reports as wwan, a solar supply, a measured TOPS figure).
//
//   accelerators:            # an existing id is corrected field by field; a new id is added
//     - id: npu0
//       tops: { int8: 13 }
//     - id: fpga0
//       type: FPGA
//       memoryMiB: 4096
//       precisions: [int8]
//       tops: { int8: 2 }
//   remove: [vpu0]           # ids that discovery found but must not be offered
//   power: { source: solar, batteryPercent: 80 }
//   network: { type: cellular-5g, metered: true }
//   labels: { site: depot-7 }
import { MAX_CONFIG_FILE_BYTES, readTextBounded } from '../bounded-read.ts';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { Accelerator, AcceleratorType, LinkType, Precision, PowerSource, Tops, issuesOf, type FieldIssue } from '@edgeplane/api';
import type { Accelerator as AcceleratorT, Network, Power } from '@edgeplane/api';

const AcceleratorPatch = z.strictObject({
  id: z.string().min(1).max(63),
  type: AcceleratorType.optional(),
  vendor: z.string().max(128).optional(),
  model: z.string().max(256).optional(),
  memoryMiB: z.int().min(0).optional(),
  precisions: z.array(Precision).min(1).max(3).optional(),
  tops: Tops.optional(),
  watts: z.number().min(0).optional(),
  features: z.array(z.string().max(64)).max(64).optional(),
});

export const OverrideFile = z.strictObject({
  accelerators: z.array(AcceleratorPatch).max(64).default([]),
  remove: z.array(z.string()).max(64).default([]),
  power: z
    .strictObject({
      source: PowerSource.optional(),
      batteryPercent: z.number().min(0).max(100).optional(),
      charging: z.boolean().optional(),
    })
    .optional(),
  network: z
    .strictObject({
      type: LinkType.optional(),
      bandwidthMbps: z.number().min(0).optional(),
      rttMs: z.number().min(0).optional(),
      metered: z.boolean().optional(),
    })
    .optional(),
  labels: z.record(z.string(), z.string()).default({}),
});
export type OverrideFile = z.infer<typeof OverrideFile>;

/** The override file cannot be read, is not YAML, or does not match the schema. */
export class OverrideFileError extends Error {
  override readonly name = 'OverrideFileError';
  readonly code = 'INVALID_OVERRIDE';
  readonly file: string;
  readonly issues: FieldIssue[];

  constructor(file: string, issues: FieldIssue[], options?: { cause?: unknown }) {
    super(`override file ${file}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, options);
    this.file = file;
    this.issues = issues;
  }
}

export function isOverrideFileError(err: unknown): err is OverrideFileError {
  return err instanceof OverrideFileError;
}

/** Pure: validates YAML text. `file` names the source in errors. */
export function parseOverride(text: string, file: string): OverrideFile {
  // YAML parsing grows faster than the text (duplicate-key checks): refuse a large file first.
  if (Buffer.byteLength(text) > MAX_CONFIG_FILE_BYTES) throw new OverrideFileError(file, [{ path: '(root)', message: `larger than ${MAX_CONFIG_FILE_BYTES} bytes` }]);
  let doc: unknown;
  try {
    doc = parseYaml(text) ?? {};
  } catch (cause) {
    throw new OverrideFileError(file, [{ path: '(root)', message: `not valid YAML: ${(cause as Error).message}` }], { cause });
  }
  const result = OverrideFile.safeParse(doc);
  if (!result.success) throw new OverrideFileError(file, issuesOf(result.error), { cause: result.error });
  return result.data;
}

export async function readOverride(file: string): Promise<OverrideFile> {
  let text: string;
  try {
    const read = await readTextBounded(file, MAX_CONFIG_FILE_BYTES);
    if (read.tooLarge) throw new OverrideFileError(file, [{ path: '(root)', message: `larger than ${MAX_CONFIG_FILE_BYTES} bytes` }]);
    text = read.text;
  } catch (cause) {
    if (isOverrideFileError(cause)) throw cause;
    throw new OverrideFileError(file, [{ path: '(root)', message: `cannot read: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}` }], { cause });
  }
  return parseOverride(text, file);
}

/** Pure: applies the accelerator patches. A new id must form a whole, valid Accelerator. */
export function applyAcceleratorOverride(found: readonly AcceleratorT[], override: OverrideFile, file: string): AcceleratorT[] {
  const out = found.filter((a) => !override.remove.includes(a.id)).map((a) => ({ ...a, tops: { ...a.tops } }));
  const issues: FieldIssue[] = [];
  override.accelerators.forEach((patch, i) => {
    const at = out.findIndex((a) => a.id === patch.id);
    const base = at >= 0 ? out[at] : undefined;
    const merged = { ...base, ...patch, tops: { ...base?.tops, ...patch.tops } };
    const result = Accelerator.safeParse(merged);
    if (!result.success) {
      for (const issue of issuesOf(result.error)) {
        const detail = base ? issue.message : `${issue.message} (a new accelerator needs id, type, memoryMiB, precisions and tops)`;
        issues.push({ path: `accelerators.${i}.${issue.path}`, message: detail });
      }
      return;
    }
    if (at >= 0) out[at] = result.data;
    else out.push(result.data);
  });
  if (issues.length) throw new OverrideFileError(file, issues);
  return out;
}

export function applyPowerOverride(power: Power, override: OverrideFile): Power {
  return override.power ? { ...power, ...override.power } : power;
}

export function applyNetworkOverride(network: Network, override: OverrideFile): Network {
  if (!override.network) return network;
  const net = { ...network, ...override.network };
  // A declared link type also implies its usual metering unless stated.
  if (override.network.type && override.network.metered === undefined) net.metered = net.type.startsWith('cellular') || net.type === 'lora';
  return net;
}

// manifest.json: what `quantize` produced, read back by `profile` and `push`.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { Precision, Profile } from '@edgeplane/api';
import { ModelError } from './errors.ts';
import { TASKS } from './ocr/tasks.ts';

export const MANIFEST_FILE = 'manifest.json';

/**
 * Names the quantizer's output format: a folder quantized by another version is stale and
 * caches rebuild it (bump on any change to what the variants contain).
 */
export const QUANTIZER_VERSION = 'qdq-elementwise-1';

export const VariantEntry = z.object({
  name: z.string().min(1),
  precision: Precision,
  /** `lite` marks the variant meant for constrained links (the smallest download). */
  profile: Profile,
  file: z.string().min(1),
  /** How the variant was made, in a few words a person can check. */
  method: z.string(),
});
export type VariantEntry = z.infer<typeof VariantEntry>;

export const Manifest = z.object({
  model: z.string().min(1),
  /** QUANTIZER_VERSION of the quantizer that wrote the folder (absent before versions were recorded). */
  quantizer: z.string().optional(),
  task: z.enum(TASKS),
  source: z.string(),
  sourceSha256: z.string(),
  opset: z.int(),
  /** Input dimensions at which shapes, GFLOPs and calibration were computed (batch 1). */
  inputShape: z.array(z.int().min(1)),
  gflops: z.number(),
  variants: z.array(VariantEntry).min(1),
  calibration: z.object({ method: z.string(), samples: z.int(), source: z.string() }).optional(),
  staticFusion: z
    .object({ fused: z.boolean(), qlinear: z.int(), remainingQdq: z.int(), optimized: z.record(z.string(), z.int()) })
    .optional(),
});
export type Manifest = z.infer<typeof Manifest>;

export function readManifest(dir: string): Manifest {
  const file = join(dir, MANIFEST_FILE);
  if (!existsSync(file)) throw new ModelError('NOT_A_VARIANT_DIR', `${dir} has no ${MANIFEST_FILE}: run \`edgeplane model quantize\` into it first`);
  const parsed = Manifest.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new ModelError('NOT_A_VARIANT_DIR', `${file} is not a variant manifest: ${parsed.error.issues[0]?.message ?? ''}`);
  for (const v of parsed.data.variants) {
    if (!existsSync(join(dir, v.file))) throw new ModelError('NOT_A_VARIANT_DIR', `${dir} lacks ${v.file} listed in its manifest`);
  }
  return parsed.data;
}

/** True when `dir` holds variants written by this quantizer version (a cache may reuse them). */
export function isCurrentQuantization(dir: string): boolean {
  try {
    return readManifest(dir).quantizer === QUANTIZER_VERSION;
  } catch {
    return false;
  }
}

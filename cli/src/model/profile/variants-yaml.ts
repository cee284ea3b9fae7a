// The `spec.model` block of an EdgeModelDeployment from measured variants, checked against
// the shared schema before it is printed.
import { stringify } from 'yaml';
import { z } from 'zod';
import { ModelVariant } from '@edgeplane/api';
import type { ProfileResult } from './profile.ts';

export interface ModelBlock {
  name: string;
  task: string;
  variants: ModelVariant[];
}

/** Variants with `uri` from `uriOf(file)`: file:// after profile, nats-obj:// after push. */
export function modelBlock(result: ProfileResult, uriOf: (file: string) => string): ModelBlock {
  const variants = result.variants.map((v) =>
    ModelVariant.parse({
      name: v.name,
      precision: v.precision,
      profile: v.profile,
      uri: uriOf(v.file),
      sha256: v.sha256,
      sizeBytes: v.sizeBytes,
      accuracy: v.accuracy,
      gflops: v.gflops,
      memoryMiB: v.memoryMiB,
    }),
  );
  return { name: result.model, task: result.taskLabel, variants: z.array(ModelVariant).parse(variants) };
}

export function modelBlockYaml(block: ModelBlock, result: ProfileResult): string {
  const header = [
    `# spec.model for an EdgeModelDeployment, measured by \`edgeplane model profile\``,
    `# on ${result.host.cpu} (${result.host.threads} thread), input [${result.inputShape.join(',')}], ${result.samples} generated samples.`,
  ];
  return `${header.join('\n')}\n${stringify({ model: block })}`;
}

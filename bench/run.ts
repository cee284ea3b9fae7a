// `npm run bench -- <name> [--json] [flags]`: runs bench/<name>.ts. Each benchmark states the
// machine it ran on; with --json its last line of output is one JSON object.
import { cpus, totalmem, platform, arch, release } from 'node:os';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface BenchContext {
  /** Flags after the name, e.g. ['--nodes', '5000']. */
  argv: string[];
  json: boolean;
  /** Progress for a person; goes to stderr when --json so stdout ends with the result. */
  log: (line: string) => void;
}

export type Bench = (ctx: BenchContext) => Promise<Record<string, unknown>>;

/** Reads `--name value` as a number, with a default. */
export function numberFlag(argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(argv[i + 1]);
  if (!Number.isFinite(value)) throw new Error(`--${name} needs a number, got ${argv[i + 1] ?? 'nothing'}`);
  return value;
}

export function machine(): Record<string, unknown> {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()} ${arch()}`,
    node: process.version,
  };
}

async function main(): Promise<void> {
  const [name, ...rest] = process.argv.slice(2);
  const here = dirname(fileURLToPath(import.meta.url));
  if (!name || name.startsWith('-')) {
    console.error('usage: npm run bench -- <name> [--json] [flags]');
    process.exit(2);
  }
  const file = join(here, `${name}.ts`);
  if (!existsSync(file)) {
    console.error(`no benchmark named ${name} (expected ${file})`);
    process.exit(2);
  }
  const json = rest.includes('--json');
  const argv = rest.filter((a) => a !== '--json');
  const log = (line: string) => (json ? process.stderr : process.stdout).write(`${line}\n`);
  log(`machine: ${JSON.stringify(machine())}`);
  const mod = (await import(pathToFileURL(file).href)) as { default: Bench };
  const result = await mod.default({ argv, json, log });
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else log(JSON.stringify(result, null, 2));
  process.exit(0);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}

// Control-plane entry point: `npx tsx control-plane/src/main.ts --help`.
import { pathToFileURL } from 'node:url';
import { parseConfig } from './config.ts';
import { isConfigError } from './errors.ts';
import { startControlPlane } from './control-plane.ts';
import { versionLine } from './version.ts';

export async function main(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<number> {
  // Before the settings are parsed: --version answers whatever else is on the line.
  if (argv.includes('--version')) {
    process.stdout.write(`${versionLine()}\n`);
    return 0;
  }
  let parsed;
  try {
    parsed = parseConfig({ argv, env });
  } catch (err) {
    if (isConfigError(err)) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (parsed.help) {
    process.stdout.write(`${parsed.text}\n`);
    return 0;
  }
  let cp;
  try {
    cp = await startControlPlane(parsed.config);
  } catch (err) {
    if (isConfigError(err)) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      process.stderr.write(`received ${signal}; shutting down\n`);
      resolve();
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
  // A second signal, or a stuck shutdown, must not keep the process alive forever.
  const force = setTimeout(() => process.exit(1), 15_000);
  force.unref();
  await cp.stop();
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`control plane failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}

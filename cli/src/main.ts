// `edgeplane <group> <command> ...`: a small dispatcher over command groups.
import { pathToFileURL } from 'node:url';
import type { CommandGroup, CommandIO } from './command.ts';
import { modelCommands } from './model/command.ts';
import { simulateCommands } from './simulate/command.ts';
import { certsCommand, credsCommands, nodeCommands, tokenCommands } from './identity/command.ts';

export const GROUPS: CommandGroup[] = [modelCommands, simulateCommands, certsCommand, tokenCommands, nodeCommands, credsCommands];

export async function main(argv: string[], io: CommandIO): Promise<number> {
  const [name, ...rest] = argv;
  const group = GROUPS.find((g) => g.name === name);
  if (!group) {
    io.err(`usage: edgeplane <group> <command> [flags]\n\n${GROUPS.map((g) => `  ${g.name.padEnd(10)} ${g.summary}`).join('\n')}\n`);
    return name === undefined || name === '--help' || name === 'help' ? 0 : 2;
  }
  return group.run(rest, io);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const io: CommandIO = {
    out: (t) => process.stdout.write(t),
    // Progress lines come without a newline from the library side; add one.
    err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
  };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}

// The `edgeplane model` command group: argument parsing and output only; the work lives in
// quantize/, profile/, push/, sign/ and inspect.ts.
import { renameSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { isModelError, ModelError } from './errors.ts';
import { parseShapeFlag } from './onnx/shapes.ts';
import { TASKS, type Task } from './ocr/tasks.ts';
import { CALIBRATION_METHODS, type CalibrationMethod } from './quantize/calibrate.ts';
import { quantizeModel } from './quantize/pipeline.ts';
import { DEFAULT_PROFILE, profileDir, type ProfileResult } from './profile/profile.ts';
import { modelBlock, modelBlockYaml } from './profile/variants-yaml.ts';
import { pushDir } from './push/push.ts';
import { formatSummary, inspectModel } from './inspect.ts';
import { SIGN_COMMANDS, SIGN_USAGE } from './sign/command.ts';
import type { CommandGroup, CommandIO } from '../command.ts';

export const PROFILE_FILE = 'profile.json';
export const VARIANTS_FILE = 'variants.yaml';

const USAGE = `usage: edgeplane model <command>

  quantize <model.onnx> --out <dir> [--shape [name=]1x3x48x192] [--name NAME] [--task cls|rec|det|generic]
           [--calibration N] [--calibration-dir DIR] [--calibration-method minmax|percentile] [--percentile P] [--force]
      fp32, fp16 (float16 storage), int8 (weight-only) and int8-static (QDQ) variants and manifest.json
  profile <dir> [--samples N] [--runs N] [--budget-ms MS] [--threads N]
      measures each variant; writes profile.json and variants.yaml there and prints the spec.model block
  push <dir> [--nats-url URL] [--nats-creds FILE] [--nats-ca FILE]
      uploads the variants into the JetStream object store bucket ep-models and prints the block with nats-obj:// URIs
      (credentials of a user that may write the store, and the CA of a tls:// server)
  inspect <model.onnx> [--shape [name=]1x3x48x192] [--json]
      inputs, outputs, opset, operator counts and GFLOPs
${SIGN_USAGE}`;

function intFlag(value: string | undefined, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new ModelError('BAD_ARGUMENT', `--${name} needs an integer of at least ${min}, got ${value}`);
  return n;
}

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], name: string, fallback: T): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) throw new ModelError('BAD_ARGUMENT', `--${name} must be one of ${allowed.join(', ')}, got ${value}`);
  return value as T;
}

function onePositional(positionals: string[], what: string): string {
  if (positionals.length !== 1 || !positionals[0]) throw new ModelError('BAD_ARGUMENT', `expected exactly one ${what}`);
  return positionals[0];
}

/** Writes a file whole or not at all (temporary name, then rename). */
function writeFileAtomically(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

async function quantize(argv: string[], io: CommandIO): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      shape: { type: 'string', multiple: true },
      name: { type: 'string' },
      task: { type: 'string' },
      calibration: { type: 'string' },
      'calibration-dir': { type: 'string' },
      'calibration-method': { type: 'string' },
      percentile: { type: 'string' },
      force: { type: 'boolean' },
    },
  });
  const source = onePositional(positionals, 'model file');
  if (!values.out) throw new ModelError('BAD_ARGUMENT', '--out <dir> is required');
  const percentile = values.percentile === undefined ? 99.99 : Number(values.percentile);
  if (!(percentile > 50 && percentile <= 100)) throw new ModelError('BAD_ARGUMENT', `--percentile must be in (50, 100], got ${values.percentile}`);
  const manifest = await quantizeModel(source, {
    out: values.out,
    shape: values.shape ? parseShapeFlag(values.shape) : undefined,
    name: values.name,
    task: values.task === undefined ? undefined : oneOf<Task>(values.task, TASKS, 'task', 'generic'),
    calibration: {
      samples: intFlag(values.calibration, 'calibration', 32),
      dir: values['calibration-dir'],
      method: oneOf<CalibrationMethod>(values['calibration-method'], CALIBRATION_METHODS, 'calibration-method', 'percentile'),
      percentile,
    },
    force: values.force,
    log: io.err,
  });
  io.out(`${JSON.stringify({ out: values.out, model: manifest.model, task: manifest.task, variants: manifest.variants.map((v) => v.file), staticFusion: manifest.staticFusion }, null, 2)}\n`);
}

async function profile(argv: string[], io: CommandIO): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { samples: { type: 'string' }, runs: { type: 'string' }, 'budget-ms': { type: 'string' }, threads: { type: 'string' } },
  });
  const dir = onePositional(positionals, 'variant folder');
  const result = await profileDir(dir, {
    ...DEFAULT_PROFILE,
    samples: intFlag(values.samples, 'samples', DEFAULT_PROFILE.samples, 2),
    runs: intFlag(values.runs, 'runs', DEFAULT_PROFILE.runs, 1),
    budgetMs: intFlag(values['budget-ms'], 'budget-ms', DEFAULT_PROFILE.budgetMs, 1),
    threads: intFlag(values.threads, 'threads', DEFAULT_PROFILE.threads, 1),
    log: io.err,
  });
  const yaml = modelBlockYaml(modelBlock(result, (file) => pathToFileURL(resolve(dir, file)).href), result);
  writeFileAtomically(join(dir, PROFILE_FILE), `${JSON.stringify(result, null, 2)}\n`);
  writeFileAtomically(join(dir, VARIANTS_FILE), yaml);
  io.out(yaml);
  // Agents refuse file:// artifacts outside the directories their configuration allows.
  io.err(`these file:// variants load only on agents started with --file-roots ${resolve(dir)} (or push them: edgeplane model push ${dir})`);
}

export function readProfile(dir: string): ProfileResult {
  const file = join(dir, PROFILE_FILE);
  if (!existsSync(file)) throw new ModelError('NOT_A_VARIANT_DIR', `${dir} has no ${PROFILE_FILE}: run \`edgeplane model profile ${dir}\` first`);
  return JSON.parse(readFileSync(file, 'utf8')) as ProfileResult;
}

async function push(argv: string[], io: CommandIO): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'nats-url': { type: 'string' }, 'nats-creds': { type: 'string' }, 'nats-ca': { type: 'string' } },
  });
  const dir = onePositional(positionals, 'variant folder');
  const result = readProfile(dir);
  const pushed = await pushDir(dir, { natsUrl: values['nats-url'] ?? 'nats://127.0.0.1:4222', natsCreds: values['nats-creds'], natsCa: values['nats-ca'], progress: io.err });
  const uris = new Map(pushed.map((p) => [p.variant, p.uri]));
  const byFile = new Map(result.variants.map((v) => [v.file, uris.get(v.name) ?? '']));
  io.out(modelBlockYaml(modelBlock(result, (file) => byFile.get(file) ?? ''), result));
}

async function inspect(argv: string[], io: CommandIO): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { shape: { type: 'string', multiple: true }, json: { type: 'boolean' } },
  });
  const path = onePositional(positionals, 'model file');
  const summary = inspectModel(path, values.shape ? parseShapeFlag(values.shape) : undefined);
  io.out(values.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(path, summary));
}

const COMMANDS: Record<string, (argv: string[], io: CommandIO) => Promise<void>> = { quantize, profile, push, inspect, ...SIGN_COMMANDS };

export const modelCommands: CommandGroup = {
  name: 'model',
  summary: 'make, measure, sign and publish model variants (quantize, profile, push, inspect, keygen, sign, verify)',
  async run(argv, io) {
    const [sub, ...rest] = argv;
    const command = sub ? COMMANDS[sub] : undefined;
    if (!command) {
      io.err(USAGE);
      return sub === undefined || sub === '--help' || sub === 'help' ? 0 : 2;
    }
    if (rest.includes('--help') || rest.includes('-h')) {
      io.out(USAGE);
      return 0;
    }
    try {
      await command(rest, io);
      return 0;
    } catch (err) {
      if (isModelError(err)) {
        io.err(`error: ${err.message} [${err.code}]\n`);
        return err.code === 'BAD_ARGUMENT' ? 2 : 1;
      }
      // parseArgs throws TypeError with a code for unknown or malformed flags.
      if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
        io.err(`error: ${err.message} [BAD_ARGUMENT]\n${USAGE}`);
        return 2;
      }
      throw err;
    }
  },
};

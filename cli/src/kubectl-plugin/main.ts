// `kubectl edgeplane`: a kubectl plugin (krew naming: the `kubectl-edgeplane` executable on
// PATH) over EdgeNodes and EdgeModelDeployments, with the kubeconfig's credentials.
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import type { EdgeModelDeployment } from '@edgeplane/api';
import type { CommandIO } from '../command.ts';
import { deploymentsTable } from './deployments.ts';
import { PluginError, exitCode, isPluginError } from './errors.ts';
import { list, OUTPUTS, structured, type Output } from './format.ts';
import { connect, type Kube } from './kube.ts';
import { describeNode, describeText, nodesTable, topNodes, topTable } from './nodes.ts';

export const USAGE = `kubectl edgeplane: EdgeNodes and EdgeModelDeployments at a glance.

usage: kubectl edgeplane <command> [flags]

  get nodes                   EdgeNodes: status, accelerators, power, link, workloads
  get deployments             EdgeModelDeployments: model, ready, tiers, degraded reason
  describe node NAME          accelerators, power, link, workloads and events of one node
  top nodes                   accelerator utilisation, requests per second and p99 per node
  why emd/NAME                each replica's node and tier, and why every other node was
                              filtered or scored lower (the placement plugins' reasons)
  cordon NODE                 no new placements on NODE
  uncordon NODE               allow placements on NODE again
  drain NODE                  cordon NODE and wait until its replicas moved elsewhere

flags:
  -o, --output wide|json|yaml   output format (wide: more columns)
  -n, --namespace NS            namespace of deployments (default: the context's)
  -A, --all-namespaces          deployments of every namespace
      --timeout DURATION        drain: how long to wait, e.g. 90s, 5m (default 2m; 0: do not wait)
  -h, --help                    this text

Credentials and cluster come from the kubeconfig kubectl uses (KUBECONFIG or ~/.kube/config).
`;

interface Flags {
  output: Output;
  namespace: string | undefined;
  allNamespaces: boolean;
  timeoutMs: number;
}

const NODE_WORDS = new Set(['nodes', 'node', 'edgenodes', 'edgenode', 'en']);
const DEPLOYMENT_WORDS = new Set(['deployments', 'deployment', 'edgemodeldeployments', 'edgemodeldeployment', 'emd']);

function parseOutput(value: string | undefined): Output {
  if (value === undefined) return 'table';
  if (!(OUTPUTS as readonly string[]).includes(value) || value === 'table') throw new PluginError('BAD_ARGUMENT', `--output must be one of wide, json, yaml; got ${value}`);
  return value as Output;
}

function parseTimeout(value: string | undefined): number {
  if (value === undefined) return 120_000;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value);
  if (!m) throw new PluginError('BAD_ARGUMENT', `--timeout must be a duration such as 90s or 5m; got ${value}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
}

function one(args: string[], what: string): string {
  if (args.length !== 1 || !args[0]) throw new PluginError('BAD_ARGUMENT', `expected one ${what}; see kubectl edgeplane --help`);
  return args[0];
}

/** `emd/NAME`, `edgemodeldeployment/NAME` or `NAME`, optionally `NAMESPACE/NAME` after the kind. */
export function parseDeploymentRef(ref: string, namespace: string): { namespace: string; name: string } {
  const slash = ref.indexOf('/');
  let rest = ref;
  if (slash > 0 && DEPLOYMENT_WORDS.has(ref.slice(0, slash).split('.')[0]!.toLowerCase())) rest = ref.slice(slash + 1);
  const parts = rest.split('/');
  if (parts.length === 1 && parts[0]) return { namespace, name: parts[0] };
  if (parts.length === 2 && parts[0] && parts[1]) return { namespace: parts[0], name: parts[1] };
  throw new PluginError('BAD_ARGUMENT', `expected emd/NAME, got ${ref}`);
}

async function getCommand(kube: Kube, args: string[], flags: Flags, io: CommandIO): Promise<void> {
  const what = one(args, 'resource (nodes or deployments)').toLowerCase();
  if (NODE_WORDS.has(what)) {
    const nodes = await kube.listNodes();
    if (flags.output === 'json' || flags.output === 'yaml') return io.out(structured(list(nodes), flags.output));
    if (nodes.length === 0) return io.err('No EdgeNodes found.\n');
    return io.out(nodesTable(nodes, await kube.listDeployments(undefined), flags.output === 'wide'));
  }
  if (DEPLOYMENT_WORDS.has(what)) {
    const ns = flags.allNamespaces ? undefined : (flags.namespace ?? kube.namespace);
    const items = await kube.listDeployments(ns);
    if (flags.output === 'json' || flags.output === 'yaml') return io.out(structured(list(items), flags.output));
    if (items.length === 0) return io.err(ns === undefined ? 'No EdgeModelDeployments found.\n' : `No EdgeModelDeployments found in ${ns} namespace.\n`);
    return io.out(deploymentsTable(items, ns === undefined, flags.output === 'wide'));
  }
  throw new PluginError('BAD_ARGUMENT', `cannot get "${what}": use nodes or deployments`);
}

async function describeCommand(kube: Kube, args: string[], flags: Flags, io: CommandIO): Promise<void> {
  const [what, name, ...extra] = args;
  if (!what || !NODE_WORDS.has(what.toLowerCase()) || !name || extra.length > 0) throw new PluginError('BAD_ARGUMENT', 'usage: kubectl edgeplane describe node NAME');
  const node = await kube.getNode(name);
  const [deployments, events] = await Promise.all([kube.listDeployments(undefined), kube.eventsFor('EdgeNode', name)]);
  const d = describeNode(node, deployments, events);
  if (flags.output === 'json' || flags.output === 'yaml') return io.out(structured(d, flags.output));
  io.out(describeText(d));
}

async function topCommand(kube: Kube, args: string[], flags: Flags, io: CommandIO): Promise<void> {
  const what = one(args, 'resource (nodes)').toLowerCase();
  if (!NODE_WORDS.has(what)) throw new PluginError('BAD_ARGUMENT', `cannot top "${what}": use nodes`);
  const rows = topNodes(await kube.listNodes());
  if (flags.output === 'json' || flags.output === 'yaml') return io.out(structured(rows, flags.output));
  if (rows.length === 0) return io.err('No EdgeNodes found.\n');
  io.out(topTable(rows, flags.output === 'wide'));
}

async function whyCommand(kube: Kube, args: string[], flags: Flags, io: CommandIO): Promise<void> {
  const ref = parseDeploymentRef(one(args, 'deployment (emd/NAME)'), flags.namespace ?? kube.namespace);
  const target = await kube.getDeployment(ref.namespace, ref.name);
  const [nodes, all] = await Promise.all([kube.listNodes(), kube.listDeployments(undefined)]);
  // Loaded here: the placement engine is the heaviest import, and only `why` needs it.
  const { why, whyText } = await import('./why.ts');
  const report = why(target, nodes, all);
  if (flags.output === 'json' || flags.output === 'yaml') return io.out(structured(report, flags.output));
  io.out(whyText(report, target.spec.slo.latencyMs));
}

async function cordonCommand(kube: Kube, args: string[], on: boolean, io: CommandIO): Promise<void> {
  const name = one(args, 'node name');
  const before = await kube.getNode(name);
  const word = on ? 'cordoned' : 'uncordoned';
  if ((before.spec?.unschedulable ?? false) === on) return io.out(`edgenode/${name} already ${word}\n`);
  await kube.setUnschedulable(name, on);
  io.out(`edgenode/${name} ${word}\n`);
}

function onNode(items: readonly EdgeModelDeployment[], node: string): string[] {
  const out: string[] = [];
  for (const d of items) {
    for (const p of d.status?.placements ?? []) if (p.node === node) out.push(`${d.metadata.namespace}/${d.metadata.name} (${p.variant} on ${p.accelerator})`);
  }
  return out.sort();
}

async function drainCommand(kube: Kube, args: string[], flags: Flags, io: CommandIO): Promise<void> {
  const name = one(args, 'node name');
  await cordonCommand(kube, [name], true, io);
  let left = onNode(await kube.listDeployments(undefined), name);
  for (const r of left) io.out(`evicting ${r}\n`);
  // Placement refuses a cordoned node, so the control plane moves each replica on its next
  // reconcile; drain waits for the deployments' status to show them gone.
  const deadline = Date.now() + flags.timeoutMs;
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(0, deadline - Date.now()))));
    left = onNode(await kube.listDeployments(undefined), name);
  }
  if (left.length > 0 && flags.timeoutMs > 0) {
    throw new PluginError('TIMEOUT', `edgenode/${name}: ${left.length} replicas still placed after ${flags.timeoutMs / 1000}s: ${left.join(', ')}`);
  }
  io.out(left.length > 0 ? `edgenode/${name} cordoned; ${left.length} replicas not yet moved\n` : `edgenode/${name} drained\n`);
}

export async function main(argv: string[], io: CommandIO, makeKube: () => Kube = connect): Promise<number> {
  let flags: Flags;
  let positionals: string[];
  try {
    const parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        output: { type: 'string', short: 'o' },
        namespace: { type: 'string', short: 'n' },
        'all-namespaces': { type: 'boolean', short: 'A' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (parsed.values.help || parsed.positionals.length === 0 || parsed.positionals[0] === 'help') {
      io.out(USAGE);
      return parsed.positionals.length === 0 && !parsed.values.help ? 2 : 0;
    }
    flags = {
      output: parseOutput(parsed.values.output),
      namespace: parsed.values.namespace,
      allNamespaces: parsed.values['all-namespaces'] ?? false,
      timeoutMs: parseTimeout(parsed.values.timeout),
    };
    positionals = parsed.positionals;
  } catch (err) {
    io.err(`error: ${(err as Error).message}\nSee 'kubectl edgeplane --help'.\n`);
    return 2;
  }
  const [command, ...args] = positionals;
  try {
    const kube = makeKube();
    switch (command) {
      case 'get':
        await getCommand(kube, args, flags, io);
        break;
      case 'describe':
        await describeCommand(kube, args, flags, io);
        break;
      case 'top':
        await topCommand(kube, args, flags, io);
        break;
      case 'why':
        await whyCommand(kube, args, flags, io);
        break;
      case 'cordon':
        await cordonCommand(kube, args, true, io);
        break;
      case 'uncordon':
        await cordonCommand(kube, args, false, io);
        break;
      case 'drain':
        await drainCommand(kube, args, flags, io);
        break;
      default:
        throw new PluginError('BAD_ARGUMENT', `unknown command "${command}"; see kubectl edgeplane --help`);
    }
    return 0;
  } catch (err) {
    if (isPluginError(err)) {
      io.err(`error: ${err.message}\n`);
      return exitCode(err);
    }
    throw err;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const io: CommandIO = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };
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

// `edgeplane certs`, `edgeplane token create|list|delete` and `edgeplane node revoke`: argument
// parsing and output only; the work lives in certs.ts, tokens.ts and revoke.ts.
import { parseArgs } from 'node:util';
import { NodeNamePattern, durationText, formatDurationMs, tokenState } from '@edgeplane/api';
import { caHash, issueClientCreds, issueLeafCreds } from '@edgeplane/trust';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import type { CommandGroup, CommandIO } from '../command.ts';
import { writeCerts } from './certs.ts';
import { IdentityError, isIdentityError } from './errors.ts';
import { loadKube } from './kube.ts';
import { revokeNode } from './revoke.ts';
import { createToken, deleteToken, listTokens } from './tokens.ts';
import { readTrustFile } from './trust-file.ts';

export const CERTS_USAGE = `usage: edgeplane certs --out DIR [--nats-host NAME ...] [--resolver-dir DIR] [--trust-file F] [--force]

  --out DIR            where to write (created, mode 0700)
  --nats-host NAME     DNS name or IP clients reach nats-server by; repeat for more [localhost, 127.0.0.1]
  --resolver-dir DIR   where nats-server keeps pushed account JWTs (revocations) [DIR/accounts]
  --trust-file F       reuse this material: new server certificate and credentials, same keys and CA pin
  --force              replace existing material (every credential and the CA pin change)

writes trust.json (all seeds and the CA: the control plane's --trust-file, mode 0600), ca.pem,
nats-server.pem and nats-server-key.pem, nats-trust.conf (include it in nats-server's
configuration), control-plane.creds and admin.creds (0600); prints the CA hash agents pin.
`;

export const TOKEN_USAGE = `usage: edgeplane token <command>

  create --trust-file F [--ttl 24h] [--max-uses N] [--node-pattern GLOB] [--allow-reenrollment]
         [--description TEXT] [--nats-url URL] [--namespace NS] [--kubeconfig F]
      a bootstrap token Secret; prints the join token (stdout) and how to start an agent with it.
      --node-pattern (or --node-name-pattern): * is any run of a-z, 0-9 and -, ? one such character
        (gw-*, dock-?-cam); the whole name must match
      --allow-reenrollment: a node enrolled with another key may enrol again (its old key is revoked)
  list [--namespace NS] [--kubeconfig F]
      every token: id, expiry, uses, pattern, state (never the secret)
  delete ID [--namespace NS] [--kubeconfig F]
      the token can enrol no one from then on; nodes it enrolled keep their credentials

The namespace is the control plane's bootstrap namespace (its --bootstrap-namespace, by default
its lease namespace): --namespace, else the kubeconfig context's, else default.
`;

export const NODE_USAGE = `usage: edgeplane node revoke NODE [--kubeconfig F]

  revoke NODE   marks the EdgeNode revoked (annotation edgeplane.io/revoked: "true") and cordons it;
                the control plane revokes the node's key in the fleet account, nats-server
                disconnects it within seconds and refuses its credential from then on. To admit the
                node again, delete its EdgeNode and enrol it with a new token.
`;

export const CREDS_USAGE = `usage: edgeplane creds client NAME --trust-file F [--ttl 30d] [--out FILE]
       edgeplane creds leaf SITE --trust-file F [--ttl 365d] --out-dir DIR

  client NAME   credentials (user JWT and nkey seed) for an inference client, in the clients' own
                account: it may send requests on ep.v1.infer.> and read its replies, and sees no
                fleet subject. Written to --out (mode 0600), else printed.
  leaf SITE     the two credentials of a site's leaf node uplink, instead of an administrator's:
                DIR/leaf-SITE.creds binds the fleet account (the site's traffic), and
                DIR/leaf-SITE-system.creds binds the system account, scoped to account updates,
                so that a node revoked at the hub is refused at the site too (mode 0600). Prints
                the leafnodes remotes to put in the leaf server's configuration.
`;

const TTL = durationText(60_000, 365 * 86_400_000);

function flagError(err: unknown): IdentityError | null {
  // parseArgs throws TypeError with an ERR_PARSE_ARGS_* code for unknown or malformed flags.
  if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) return new IdentityError('BAD_ARGUMENT', err.message);
  return null;
}

/** Runs one command: usage on --help, a coded error line and exit status on failure. */
async function runCommand(usage: string, argv: string[], io: CommandIO, command: (argv: string[]) => Promise<void>): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(usage);
    return 0;
  }
  try {
    await command(argv);
    return 0;
  } catch (err) {
    const e = isIdentityError(err) ? err : flagError(err);
    if (!e) throw err;
    io.err(`error: ${e.message} [${e.code}]\n${e.code === 'BAD_ARGUMENT' ? `\n${usage}` : ''}`);
    return e.code === 'BAD_ARGUMENT' ? 2 : 1;
  }
}

const noPositionals = (positionals: string[]) => {
  if (positionals.length) throw new IdentityError('BAD_ARGUMENT', `unexpected argument ${positionals[0]}`);
};

async function certs(argv: string[], io: CommandIO): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { out: { type: 'string' }, 'nats-host': { type: 'string', multiple: true }, 'resolver-dir': { type: 'string' }, 'trust-file': { type: 'string' }, force: { type: 'boolean' } },
  });
  noPositionals(positionals);
  if (!values.out) throw new IdentityError('BAD_ARGUMENT', '--out DIR is required');
  const result = await writeCerts({
    out: values.out,
    natsHosts: values['nats-host'] ?? ['localhost', '127.0.0.1'],
    ...(values['resolver-dir'] ? { resolverDir: values['resolver-dir'] } : {}),
    ...(values['trust-file'] ? { existing: readTrustFile(values['trust-file']) } : {}),
    force: values.force ?? false,
  });
  io.err(
    [
      `trust material   ${result.files.trust} (0600: the control plane's --trust-file; keep it secret, back it up)`,
      `CA               ${result.files.ca}`,
      `nats-server      ${result.files.serverCert}, ${result.files.serverKey}; include ${result.files.serverConfig}`,
      `credentials      ${result.files.controlPlaneCreds} (control plane --nats-creds), ${result.files.adminCreds}`,
      '',
    ].join('\n'),
  );
  io.out(`ca-hash: ${result.caHash}\n`);
}

async function tokenCreate(argv: string[], io: CommandIO): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'trust-file': { type: 'string' },
      ttl: { type: 'string' },
      'max-uses': { type: 'string' },
      'node-pattern': { type: 'string' },
      // The Secret's key name, accepted as the same flag.
      'node-name-pattern': { type: 'string' },
      'allow-reenrollment': { type: 'boolean' },
      description: { type: 'string' },
      'nats-url': { type: 'string' },
      namespace: { type: 'string' },
      kubeconfig: { type: 'string' },
    },
  });
  noPositionals(positionals);
  if (!values['trust-file']) throw new IdentityError('BAD_ARGUMENT', '--trust-file F is required: the token carries a bootstrap credential signed with it');
  const ttl = TTL.safeParse(values.ttl ?? '24h');
  if (!ttl.success) throw new IdentityError('BAD_ARGUMENT', `--ttl ${ttl.error.issues[0]?.message ?? 'is invalid'}`);
  let maxUses: number | undefined;
  if (values['max-uses'] !== undefined) {
    maxUses = Number(values['max-uses']);
    if (!Number.isInteger(maxUses) || maxUses < 1 || maxUses > 1e9) throw new IdentityError('BAD_ARGUMENT', `--max-uses needs a whole number of at least 1, got ${values['max-uses']}`);
  }
  if (values['node-pattern'] !== undefined && values['node-name-pattern'] !== undefined) throw new IdentityError('BAD_ARGUMENT', 'give --node-pattern or --node-name-pattern, not both');
  const pattern = values['node-pattern'] ?? values['node-name-pattern'];
  if (pattern !== undefined && !NodeNamePattern.safeParse(pattern).success) {
    throw new IdentityError('BAD_ARGUMENT', '--node-pattern must be a glob of a-z, 0-9, -, * (any run) and ? (one character), at most 63 long');
  }
  if (values.description !== undefined && values.description.length > 256) throw new IdentityError('BAD_ARGUMENT', '--description is at most 256 characters');
  const trust = readTrustFile(values['trust-file']);
  const kube = loadKube(values.kubeconfig, values.namespace);
  const created = await createToken(kube.kc.makeApiClient(CoreV1Api), kube.namespace, trust, {
    ttlMs: ttl.data,
    ...(maxUses !== undefined ? { maxUses } : {}),
    ...(pattern !== undefined ? { nodeNamePattern: pattern } : {}),
    allowReenrollment: values['allow-reenrollment'] ?? false,
    ...(values.description !== undefined ? { description: values.description } : {}),
  });
  const t = created.token;
  io.out(`${created.joinToken}\n`);
  io.err(
    [
      `token ${t.tokenId} in namespace ${created.namespace} (Secret ${created.secretName}): expires ${new Date(t.expiresAtMs).toISOString()} (in ${formatDurationMs(ttl.data)}), ` +
        `${t.maxUses === undefined ? 'any number of uses' : `${t.maxUses} use${t.maxUses === 1 ? '' : 's'}`}, ${t.nodeNamePattern ? `node names ${t.nodeNamePattern}` : 'any node name'}` +
        `${t.allowReenrollment ? ', re-enrolment allowed' : ''}`,
      'start an agent with it (the join token in a file of mode 0600, not on the command line):',
      `  edgeplane-agent --node NODE --nats-url ${values['nats-url'] ?? 'tls://NATS_HOST:4222'} --state-dir /var/lib/edgeplane-agent \\`,
      `    --bootstrap-token-file /etc/edgeplane-agent/join-token --ca-hash ${caHash(trust.ca.certPem)}`,
      '',
    ].join('\n'),
  );
}

async function tokenList(argv: string[], io: CommandIO): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { namespace: { type: 'string' }, kubeconfig: { type: 'string' } } });
  noPositionals(positionals);
  const kube = loadKube(values.kubeconfig, values.namespace);
  const now = Date.now();
  const rows = (await listTokens(kube.kc.makeApiClient(CoreV1Api), kube.namespace)).map((l) =>
    'token' in l
      ? [l.token.tokenId, new Date(l.token.expiresAtMs).toISOString(), `${l.token.uses}/${l.token.maxUses ?? '-'}`, l.token.nodeNamePattern ?? '*', tokenState(l.token, now), l.token.description ?? '']
      : [l.name, '', '', '', 'invalid', l.problem],
  );
  const table = [['ID', 'EXPIRES', 'USES', 'NODES', 'STATE', 'DESCRIPTION'], ...rows];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  io.out(`${table.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n')}\n`);
}

async function tokenDelete(argv: string[], io: CommandIO): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { namespace: { type: 'string' }, kubeconfig: { type: 'string' } } });
  if (positionals.length !== 1) throw new IdentityError('BAD_ARGUMENT', 'expected one token id');
  const kube = loadKube(values.kubeconfig, values.namespace);
  await deleteToken(kube.kc.makeApiClient(CoreV1Api), kube.namespace, positionals[0]!);
  io.out(`token ${positionals[0]} deleted from ${kube.namespace}\n`);
}

async function nodeRevoke(argv: string[], io: CommandIO): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { kubeconfig: { type: 'string' } } });
  if (positionals.length !== 1) throw new IdentityError('BAD_ARGUMENT', 'expected one node name');
  const node = positionals[0]!;
  const kube = loadKube(values.kubeconfig, undefined);
  const { publicKey } = await revokeNode(kube.kc.makeApiClient(CustomObjectsApi), node);
  io.out(
    publicKey
      ? `node ${node} revoked (key ${publicKey}): the control plane revokes its credential, and nats-server disconnects it within seconds\n`
      : `node ${node} marked revoked and cordoned; it records no enrolled key, so there is no credential to revoke\n`,
  );
}

async function credsClient(argv: string[], io: CommandIO): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'trust-file': { type: 'string' }, ttl: { type: 'string' }, out: { type: 'string' } },
  });
  if (positionals.length !== 1 || !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(positionals[0]!)) {
    throw new IdentityError('BAD_ARGUMENT', 'expected one client name, a DNS label');
  }
  if (!values['trust-file']) throw new IdentityError('BAD_ARGUMENT', '--trust-file F is required: the credential is signed with it');
  const ttl = TTL.safeParse(values.ttl ?? '30d');
  if (!ttl.success) throw new IdentityError('BAD_ARGUMENT', `--ttl ${ttl.error.issues[0]?.message ?? 'is invalid'}`);
  const creds = await issueClientCreds(readTrustFile(values['trust-file']), positionals[0]!, Math.floor(ttl.data / 1000));
  if (values.out) {
    writeFileSync(values.out, creds, { mode: 0o600 });
    io.err(`credentials for inference client ${positionals[0]} in ${values.out} (0600), valid ${formatDurationMs(ttl.data)}\n`);
  } else {
    io.out(creds);
  }
}

async function credsLeaf(argv: string[], io: CommandIO): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'trust-file': { type: 'string' }, ttl: { type: 'string' }, 'out-dir': { type: 'string' } },
  });
  const site = positionals[0];
  if (positionals.length !== 1 || !site || !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(site)) throw new IdentityError('BAD_ARGUMENT', 'expected one site name, a DNS label');
  if (!values['trust-file']) throw new IdentityError('BAD_ARGUMENT', '--trust-file F is required: the credentials are signed with it');
  if (!values['out-dir']) throw new IdentityError('BAD_ARGUMENT', '--out-dir DIR is required: two credentials are written there');
  const ttl = TTL.safeParse(values.ttl ?? '365d');
  if (!ttl.success) throw new IdentityError('BAD_ARGUMENT', `--ttl ${ttl.error.issues[0]?.message ?? 'is invalid'}`);
  const leaf = await issueLeafCreds(readTrustFile(values['trust-file']), site, Math.floor(ttl.data / 1000));
  const fleetFile = join(values['out-dir'], `leaf-${site}.creds`);
  const systemFile = join(values['out-dir'], `leaf-${site}-system.creds`);
  writeFileSync(fleetFile, leaf.fleet, { mode: 0o600 });
  writeFileSync(systemFile, leaf.system, { mode: 0o600 });
  io.err(`credentials for the leaf node of site ${site} in ${fleetFile} and ${systemFile} (0600), valid ${formatDurationMs(ttl.data)}\n`);
  io.out(
    [
      'leafnodes {',
      '  remotes: [',
      `    { urls: ["tls://HUB:7422"], credentials: "/etc/nats/leaf-${site}.creds", account: "${leaf.fleetAccount}", tls: { ca_file: "/etc/nats/ca.pem" } },`,
      `    { urls: ["tls://HUB:7422"], credentials: "/etc/nats/leaf-${site}-system.creds", account: "${leaf.systemAccount}", tls: { ca_file: "/etc/nats/ca.pem" } }`,
      '  ]',
      '}',
      '',
    ].join('\n'),
  );
}

/** A group whose commands each take their own flags. */
function group(name: string, summary: string, usage: string, commands: Record<string, (argv: string[], io: CommandIO) => Promise<void>>): CommandGroup {
  return {
    name,
    summary,
    async run(argv, io) {
      const [sub, ...rest] = argv;
      const command = sub ? commands[sub] : undefined;
      if (!command) {
        io.err(usage);
        return sub === undefined || sub === '--help' || sub === '-h' || sub === 'help' ? 0 : 2;
      }
      return runCommand(usage, rest, io, (a) => command(a, io));
    },
  };
}

export const certsCommand: CommandGroup = {
  name: 'certs',
  summary: 'create the fleet trust material: CA, nats-server certificate and configuration, credentials',
  run: (argv, io) => runCommand(CERTS_USAGE, argv, io, (a) => certs(a, io)),
};

export const tokenCommands = group('token', 'bootstrap tokens that enrol agents (create, list, delete)', TOKEN_USAGE, {
  create: tokenCreate,
  list: tokenList,
  delete: tokenDelete,
});

export const credsCommands = group('creds', 'credentials for inference clients (client) and site leaf nodes (leaf)', CREDS_USAGE, { client: credsClient, leaf: credsLeaf });

export const nodeCommands = group('node', "revoke a node's credential (revoke)", NODE_USAGE, { revoke: nodeRevoke });

// The Containerfile of an image, for people who build with BuildKit or Podman: FROM scratch,
// then the image's own layer archives ADDed in order (ADD unpacks a local tar and keeps its
// owners and modes, which COPY would reset), then the same configuration. Version, revision
// and creation time are build arguments, so the committed file does not change per commit.
import { ImageError } from './errors.ts';
import { ENV, SOURCE, USER, type ImageSpec } from './specs.ts';

export const LAYER_FILES = ['base.tar.gz', 'app.tar.gz'] as const;

export function labels(spec: ImageSpec, dynamic: { version: string; revision: string; created: string }): Record<string, string> {
  return {
    'org.opencontainers.image.title': spec.title,
    'org.opencontainers.image.description': spec.description,
    'org.opencontainers.image.source': SOURCE,
    'org.opencontainers.image.licenses': spec.licenses,
    'org.opencontainers.image.version': dynamic.version,
    'org.opencontainers.image.revision': dynamic.revision,
    'org.opencontainers.image.created': dynamic.created,
  };
}

const quote = (s: string) => JSON.stringify(s);

export function renderContainerfile(spec: ImageSpec): string {
  const l = labels(spec, { version: '${VERSION}', revision: '${REVISION}', created: '${CREATED}' });
  const labelLines = Object.entries(l).map(([k, v]) => `      ${k}=${quote(v)}`);
  return [
    `# ${spec.repository}: the image \`make images\` writes to dist/images/${spec.name}/ (images/src/specs.ts).`,
    `# The build context is dist/images/${spec.name}.context/, the image's layer archives, written by make images:`,
    `#   podman build -f images/containerfiles/${spec.name}.Containerfile \\`,
    `#     --build-arg VERSION=... --build-arg REVISION=$(git rev-parse HEAD) --build-arg CREATED=... \\`,
    `#     -t ${spec.repository}:<version> dist/images/${spec.name}.context`,
    'FROM scratch',
    'ARG VERSION',
    'ARG REVISION',
    'ARG CREATED',
    ...LAYER_FILES.map((f) => `ADD ${f} /`),
    `LABEL ${labelLines.join(' \\\n').trimStart()}`,
    ...ENV.map((e) => `ENV ${e}`),
    `USER ${USER}`,
    `WORKDIR ${spec.workingDir}`,
    ...spec.exposedPorts.map((p) => `EXPOSE ${p}`),
    `ENTRYPOINT ${JSON.stringify(spec.entrypoint)}`,
    '',
  ].join('\n');
}

export interface ParsedContainerfile {
  from: string;
  adds: { source: string; dest: string }[];
  labels: Record<string, string>;
  env: string[];
  user: string;
  workdir: string;
  expose: string[];
  entrypoint: string[];
}

/** Splits `k="v" k2=v2` as Dockerfile LABEL does (double-quoted values may hold spaces). */
function keyValues(text: string, line: number): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /\s*([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)/gy;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(text)) !== null) {
    const raw = m[2] ?? '';
    out[m[1] as string] = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    end = re.lastIndex;
  }
  if (text.slice(end).trim() !== '') throw new ImageError('CONTAINERFILE', `line ${line}: cannot read ${JSON.stringify(text.slice(end).trim())}`);
  return out;
}

/**
 * Reads the subset of the Containerfile syntax renderContainerfile writes, with `${ARG}`
 * replaced from `args`; anything else is refused with its line.
 */
export function parseContainerfile(text: string, args: Readonly<Record<string, string>>): ParsedContainerfile {
  const out: ParsedContainerfile = { from: '', adds: [], labels: {}, env: [], user: '', workdir: '/', expose: [], entrypoint: [] };
  const logical: { text: string; line: number }[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    if (pending === '' && (raw.trim() === '' || raw.trimStart().startsWith('#'))) return;
    if (pending === '') start = i + 1;
    if (raw.endsWith('\\')) pending += `${raw.slice(0, -1)} `;
    else {
      logical.push({ text: pending + raw, line: start });
      pending = '';
    }
  });
  const substitute = (s: string, line: number) =>
    s.replace(/\$\{([A-Z_]+)\}/g, (_, name: string) => {
      const value = args[name];
      if (value === undefined) throw new ImageError('CONTAINERFILE', `line ${line}: build argument ${name} has no value`);
      return value;
    });
  for (const { text: l, line } of logical) {
    const m = /^\s*([A-Z]+)\s+(.*)$/.exec(l);
    if (!m) throw new ImageError('CONTAINERFILE', `line ${line}: not an instruction`);
    const [, op, rest = ''] = m;
    switch (op) {
      case 'FROM':
        out.from = rest.trim();
        break;
      case 'ARG':
        break;
      case 'ADD': {
        const parts = rest.trim().split(/\s+/);
        if (parts.length !== 2) throw new ImageError('CONTAINERFILE', `line ${line}: ADD takes one source and a destination`);
        out.adds.push({ source: parts[0] as string, dest: parts[1] as string });
        break;
      }
      case 'LABEL':
        for (const [k, v] of Object.entries(keyValues(rest, line))) out.labels[k] = substitute(v, line);
        break;
      case 'ENV':
        out.env.push(rest.trim());
        break;
      case 'USER':
        out.user = rest.trim();
        break;
      case 'WORKDIR':
        out.workdir = rest.trim();
        break;
      case 'EXPOSE':
        out.expose.push(...rest.trim().split(/\s+/));
        break;
      case 'ENTRYPOINT':
        out.entrypoint = JSON.parse(rest) as string[];
        break;
      default:
        throw new ImageError('CONTAINERFILE', `line ${line}: instruction ${op} is not used by these images`);
    }
  }
  return out;
}

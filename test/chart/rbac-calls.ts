// What the control plane asks of the Kubernetes API, read mechanically from its source, and
// what the chart grants, read from the rendered RBAC objects; both as "group resource verb"
// permissions so the two sets can be compared.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import type { K8sObject } from './helm.ts';

/** One permission: API group ('' for core), resource (with /subresource), verb. */
export type Permission = `${string} ${string} ${string}`;

export const permission = (group: string, resource: string, verb: string): Permission => `${group || 'core'} ${resource} ${verb}`;

/** The custom resources of the API group, split by scope, as the CRDs declare them. */
export interface CustomResources {
  group: string;
  namespaced: string[];
  cluster: string[];
}

const VERBS: Record<string, string> = {
  get: 'get',
  read: 'get',
  list: 'list',
  create: 'create',
  replace: 'update',
  patch: 'patch',
  delete: 'delete',
  deleteCollection: 'deletecollection',
};

/** API group of a typed client-node class, e.g. CoordinationV1Api -> coordination.k8s.io. */
export function groupOfApiClass(className: string): string {
  const m = /^([A-Z][A-Za-z]*?)V\d+(?:(?:alpha|beta)\d+)?Api$/.exec(className);
  if (!m) throw new Error(`${className} is not a typed client-node API class`);
  const special: Record<string, string> = { Core: '', Apps: 'apps', Batch: 'batch', Policy: 'policy', Autoscaling: 'autoscaling' };
  const stem = m[1]!;
  if (stem in special) return special[stem]!;
  // RbacAuthorization -> rbac.authorization.k8s.io, Coordination -> coordination.k8s.io
  return `${stem.replace(/([a-z])([A-Z])/g, '$1.$2').toLowerCase()}.k8s.io`;
}

function plural(kind: string): string {
  const lower = kind.toLowerCase();
  if (/[^aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  if (/(s|x|ch|sh)$/.test(lower)) return `${lower}es`;
  return `${lower}s`;
}

/**
 * The permissions one client-node method needs. `null` for calls that need none (discovery);
 * throws for a method this mapping does not understand, so a new kind of call cannot slip by.
 */
export function permissionsOfCall(className: string, method: string, crs: CustomResources): Permission[] | null {
  const name = method.replace(/WithHttpInfo$/, '');
  if (name === 'getAPIResources') return null;
  if (className === 'CustomObjectsApi') {
    const m = /^(get|list|create|replace|patch|delete|deleteCollection)(Namespaced|Cluster)?CustomObject(ForAllNamespaces)?(Status|Scale)?$/.exec(name);
    if (!m) throw new Error(`CustomObjectsApi.${name}: no RBAC mapping`);
    const plurals = m[2] === 'Cluster' ? crs.cluster : crs.namespaced;
    const sub = m[4] ? `/${m[4].toLowerCase()}` : '';
    return plurals.map((p) => permission(crs.group, `${p}${sub}`, VERBS[m[1]!]!));
  }
  const m = /^(read|list|create|replace|patch|delete|deleteCollection)(Namespaced)?([A-Z][A-Za-z]*?)(ForAllNamespaces)?(Status|Scale)?$/.exec(name);
  if (!m) throw new Error(`${className}.${name}: no RBAC mapping`);
  const sub = m[5] ? `/${m[5].toLowerCase()}` : '';
  return [permission(groupOfApiClass(className), `${plural(m[3]!)}${sub}`, VERBS[m[1]!]!)];
}

export interface Call {
  file: string;
  line: number;
  call: string;
  permissions: Permission[];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return entry.endsWith('.ts') && !entry.endsWith('.test.ts') ? [path] : [];
  });
}

/**
 * Every Kubernetes call in a source tree: methods of the client-node API classes it builds
 * with makeApiClient, and watches (makeInformer, Watch), which need list and watch on the
 * custom resources.
 */
export function callsInSource(srcDir: string, crs: CustomResources): Call[] {
  const files = sourceFiles(srcDir).map((file) => ({ file, text: readFileSync(file, 'utf8') }));
  const classes = new Set<string>();
  for (const { text } of files) for (const m of text.matchAll(/makeApiClient\(\s*(\w+)\s*\)/g)) classes.add(m[1]!);
  // Names the clients are kept under: `core: kc.makeApiClient(CoreV1Api)`, `const authn = ...`.
  const clients = new Map<string, string>();
  for (const { text } of files) {
    for (const m of text.matchAll(/(\w+)\s*[:=]\s*\w+\.makeApiClient\(\s*(\w+)\s*\)/g)) {
      // One name for two classes says nothing about either: such calls count for every owner.
      clients.set(m[1]!, clients.has(m[1]!) && clients.get(m[1]!) !== m[2] ? '' : m[2]!);
    }
  }
  const methodsOf = new Map<string, Set<string>>();
  for (const cls of classes) {
    const ctor = (k8s as unknown as Record<string, { prototype: object } | undefined>)[cls];
    if (!ctor) throw new Error(`makeApiClient(${cls}): not a client-node export`);
    methodsOf.set(cls, new Set(Object.getOwnPropertyNames(ctor.prototype).filter((n) => n !== 'constructor')));
  }
  const calls: Call[] = [];
  for (const { file, text } of files) {
    const lines = text.split('\n');
    lines.forEach((source, i) => {
      if (/^\s*(\/\/|\*)/.test(source)) return;
      const at = { file: relative(srcDir, file), line: i + 1 };
      for (const m of source.matchAll(/\.(\w+)\s*\(/g)) {
        const method = m[1]!;
        const receiver = /(\w+)\s*$/.exec(source.slice(0, m.index))?.[1];
        const named = receiver === undefined ? undefined : clients.get(receiver) || undefined;
        const owners = named && methodsOf.get(named)!.has(method) ? [named] : [...classes].filter((c) => methodsOf.get(c)!.has(method));
        if (owners.length === 0) continue;
        // A method two classes share (createNamespacedEvent in core and events.k8s.io) is charged to
        // the client it is called on when the source names it (`events: makeApiClient(EventsV1Api)`
        // ... `.events.createNamespacedEvent(`), else to both.
        const permissions = owners.flatMap((c) => permissionsOfCall(c, method, crs) ?? []);
        calls.push({ ...at, call: `${owners.join('|')}.${method}`, permissions });
      }
      if (/\bmakeInformer\s*\(|\bnew\s+Watch\s*\(/.test(source)) {
        const all = [...crs.namespaced, ...crs.cluster];
        calls.push({ ...at, call: 'watch', permissions: all.flatMap((p) => [permission(crs.group, p, 'list'), permission(crs.group, p, 'watch')]) });
      }
    });
  }
  return calls;
}

/**
 * The table the control plane keeps beside its clients ("The calls the control plane makes,
 * which the chart's RBAC must grant:"), one "group resource verbs" row per line.
 */
export function declaredCalls(srcDir: string): Permission[] {
  for (const file of sourceFiles(srcDir)) {
    const lines = readFileSync(file, 'utf8').split('\n');
    const start = lines.findIndex((l) => /^\/\/.*RBAC must grant/.test(l));
    if (start < 0) continue;
    const out: Permission[] = [];
    for (const line of lines.slice(start + 1)) {
      const m = /^\/\/\s+(core|[a-z0-9.-]+\.[a-z]+)\s+([a-z]+(?:\/[a-z]+)?)\s+([a-z]+(?:,\s*[a-z]+)*)/.exec(line);
      if (!m) break;
      for (const verb of m[3]!.split(/,\s*/)) out.push(permission(m[1] === 'core' ? '' : m[1]!, m[2]!, verb));
    }
    return out;
  }
  throw new Error(`no "RBAC must grant" table in ${srcDir}`);
}

export interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

export interface Grant {
  permission: Permission;
  /** Where: the ClusterRole, or a Role's namespace. */
  scope: string;
  resourceNames?: string[];
}

/** Every permission the rendered ClusterRoles and Roles grant. */
export function grantsOf(objects: readonly K8sObject[]): Grant[] {
  const out: Grant[] = [];
  for (const o of objects) {
    if (o.kind !== 'ClusterRole' && o.kind !== 'Role') continue;
    const scope = o.kind === 'ClusterRole' ? 'cluster' : `namespace ${o.metadata.namespace}`;
    for (const rule of (o as unknown as { rules: Rule[] }).rules) {
      if (rule.nonResourceURLs?.length) throw new Error(`${o.kind} ${o.metadata.name} grants non-resource URLs`);
      for (const group of rule.apiGroups ?? [])
        for (const resource of rule.resources ?? [])
          for (const verb of rule.verbs)
            out.push({ permission: permission(group, resource, verb), scope, ...(rule.resourceNames ? { resourceNames: rule.resourceNames } : {}) });
    }
  }
  return out;
}

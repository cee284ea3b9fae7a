// Hash routes, so the static server needs no fallback and every view has an address:
//   #/                         fleet (#/?q=<filter>)
//   #/nodes/<name>             node
//   #/deployments/<ns>/<name>  deployment
export type Route =
  | { view: 'fleet'; filter: string }
  | { view: 'node'; name: string }
  | { view: 'deployment'; namespace: string; name: string }
  | { view: 'missing'; hash: string };

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '') || '/';
  const [path = '/', query = ''] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { view: 'fleet', filter: new URLSearchParams(query).get('q') ?? '' };
  if (parts[0] === 'nodes' && parts.length === 2) return { view: 'node', name: parts[1]! };
  if (parts[0] === 'deployments' && parts.length === 3) return { view: 'deployment', namespace: parts[1]!, name: parts[2]! };
  return { view: 'missing', hash };
}

export const href = {
  fleet: (filter = '') => (filter ? `#/?q=${encodeURIComponent(filter)}` : '#/'),
  node: (name: string) => `#/nodes/${encodeURIComponent(name)}`,
  deployment: (namespace: string, name: string) => `#/deployments/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`,
  /** A deployment as workloads name it, `<namespace>/<name>`. */
  deploymentKey: (key: string) => {
    const i = key.indexOf('/');
    return i < 0 ? href.fleet() : href.deployment(key.slice(0, i), key.slice(i + 1));
  },
};

// The control plane's dashboard routes (api/src/dashboard.ts is the contract; its zod schemas
// stay out of the bundle, so the paths are repeated here and a unit test keeps them equal).
import type { DeploymentView, FleetSnapshot, NodeDetail, NodeHistory } from '../../api/src/dashboard.ts';

/** The page lives at <base>/ (normally /dashboard/); the API at <base>/api. */
export function apiBase(pathname: string): string {
  const dir = pathname.endsWith('/') ? pathname.slice(0, -1) : pathname.slice(0, pathname.lastIndexOf('/'));
  return `${dir}/api`;
}

export const routes = (base: string) => ({
  fleet: `${base}/fleet`,
  node: (name: string) => `${base}/nodes/${encodeURIComponent(name)}`,
  nodeHistory: (name: string) => `${base}/nodes/${encodeURIComponent(name)}/history`,
  deployment: (namespace: string, name: string) => `${base}/deployments/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`,
  events: (node?: string) => `${base}/events${node ? `?node=${encodeURIComponent(node)}` : ''}`,
});
export type Routes = ReturnType<typeof routes>;

/** A route answered with an error: `code` from the server's { code, message }, or HTTP_<status>. */
export class DashboardApiError extends Error {
  override readonly name = 'DashboardApiError';
  readonly code: string;
  readonly status: number;
  constructor(code: string, status: number, message: string) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' }, ...(signal ? { signal } : {}) });
  if (!res.ok) {
    let code = `HTTP_${res.status}`;
    let message = res.statusText;
    try {
      const body = (await res.json()) as { code?: unknown; message?: unknown };
      if (typeof body.code === 'string') code = body.code;
      if (typeof body.message === 'string') message = body.message;
    } catch {
      // not JSON: keep the status line
    }
    throw new DashboardApiError(code, res.status, message);
  }
  return (await res.json()) as T;
}

export interface DashboardApi {
  routes: Routes;
  fleet(signal?: AbortSignal): Promise<FleetSnapshot>;
  node(name: string, signal?: AbortSignal): Promise<NodeDetail>;
  nodeHistory(name: string, signal?: AbortSignal): Promise<NodeHistory>;
  deployment(namespace: string, name: string, signal?: AbortSignal): Promise<DeploymentView>;
}

export function dashboardApi(base: string): DashboardApi {
  const r = routes(base);
  return {
    routes: r,
    fleet: (signal) => getJson<FleetSnapshot>(r.fleet, signal),
    node: (name, signal) => getJson<NodeDetail>(r.node(name), signal),
    nodeHistory: (name, signal) => getJson<NodeHistory>(r.nodeHistory(name), signal),
    deployment: (namespace, name, signal) => getJson<DeploymentView>(r.deployment(namespace, name), signal),
  };
}

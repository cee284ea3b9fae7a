// Shared pieces of the control-plane integration tests: configuration with short timings,
// fixtures, and readers for the API server and /metrics.
import { randomBytes } from 'node:crypto';
import { API_VERSION, EMD_KIND, EMD_PLURAL, GROUP, VERSION, type Accelerator, type EdgeModelDeployment, type EdgeModelDeploymentInput } from '@edgeplane/api';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { inject } from 'vitest';
import type { Config } from '../../control-plane/src/config.ts';

/**
 * Heartbeat 200 ms and a 4 s lease keep the suites quick (and leadership steady on a busy machine). NATS settings come from
 * `controlPlaneNats` (credentials and CA); plain NATS only with an explicit `insecureNats`.
 */
export function testConfig(o: { natsUrl: string; redisUrl: string; kubeconfigPath: string; run: string } & Partial<Config>): Config {
  const { run, kubeconfigPath, ...over } = o;
  return {
    kube: { source: 'file', path: kubeconfigPath },
    namespaces: [run],
    nodeSelector: `edgeplane.io/test-run=${run}`,
    leaseName: `ep-${run}`,
    leaseNamespace: run,
    leaseDurationMs: 4000,
    renewDeadlineMs: 3000,
    retryPeriodMs: 500,
    heartbeatIntervalMs: 200,
    // Three heartbeats and no eviction delay: a silent node's replicas move within a second.
    nodeMonitorGracePeriodMs: 600,
    evictionDelayMs: 0,
    fullDisruptionFraction: 0.55,
    fullDisruptionMinNodes: 3,
    apiAddr: { host: '127.0.0.1', port: 0 },
    logLevel: 'error',
    identity: `cp-${randomBytes(3).toString('hex')}`,
    resyncMs: 60_000,
    workers: 2,
    insecureNoAuth: false,
    metricsAuth: 'rbac',
    insecureNats: false,
    ...over,
  };
}

/** Environment for a control plane started as a child process with the same settings. */
export function testEnv(c: Config, kubeconfigPath: string): Record<string, string> {
  return {
    EP_NATS_URL: c.natsUrl,
    ...(c.natsCreds ? { EP_NATS_CREDS: c.natsCreds } : {}),
    ...(c.natsCa ? { EP_NATS_CA: c.natsCa } : {}),
    EP_INSECURE_NATS: String(c.insecureNats),
    EP_REDIS_URL: c.redisUrl,
    EP_KUBECONFIG: kubeconfigPath,
    EP_NAMESPACES: c.namespaces.join(','),
    EP_NODE_SELECTOR: c.nodeSelector,
    EP_LEASE_NAME: c.leaseName,
    EP_LEASE_NAMESPACE: c.leaseNamespace,
    EP_LEASE_DURATION_MS: String(c.leaseDurationMs),
    EP_RENEW_DEADLINE_MS: String(c.renewDeadlineMs),
    EP_RETRY_PERIOD_MS: String(c.retryPeriodMs),
    EP_HEARTBEAT_INTERVAL_MS: String(c.heartbeatIntervalMs),
    EP_NODE_MONITOR_GRACE_PERIOD_MS: String(c.nodeMonitorGracePeriodMs),
    EP_EVICTION_DELAY_MS: String(c.evictionDelayMs),
    EP_FULL_DISRUPTION_FRACTION: String(c.fullDisruptionFraction),
    EP_FULL_DISRUPTION_MIN_NODES: String(c.fullDisruptionMinNodes),
    EP_API_ADDR: `${c.apiAddr.host}:${c.apiAddr.port}`,
    EP_LOG_LEVEL: c.logLevel,
    EP_IDENTITY: c.identity,
    EP_RESYNC_MS: String(c.resyncMs),
    EP_WORKERS: String(c.workers),
    EP_INSECURE_NO_AUTH: String(c.insecureNoAuth),
    EP_METRICS_AUTH: c.metricsAuth,
  };
}

export const runId = (name: string) => `${name}-${randomBytes(3).toString('hex')}`;

export { ensureNamespace } from '@edgeplane/env';

export function gpu(id = 'gpu0', memoryMiB = 8192): Accelerator {
  return { id, type: 'GPU', vendor: 'nvidia', model: 'test', memoryMiB, precisions: ['fp32', 'fp16', 'int8'], tops: { fp32: 10, fp16: 20, int8: 40 }, watts: 15 };
}

const digest = (c: string) => c.repeat(64);

/** A detector with full fp32/fp16/int8 variants and lite fp16/int8 ones. */
export function detector(namespace: string, name: string, replicas: number, over: Partial<EdgeModelDeploymentInput['spec']> = {}): EdgeModelDeploymentInput {
  const variant = (v: string, precision: 'fp32' | 'fp16' | 'int8', profile: 'full' | 'lite', accuracy: number, sizeBytes: number, memoryMiB: number, d: string) => ({
    name: `${name}-${v}`,
    precision,
    profile,
    uri: `nats-obj://ep-models/${name}-${v}.onnx`,
    sha256: digest(d),
    sizeBytes,
    accuracy,
    gflops: 8,
    memoryMiB,
  });
  return {
    apiVersion: API_VERSION,
    kind: EMD_KIND,
    metadata: { name, namespace },
    spec: {
      model: {
        name,
        task: 'object-detection',
        variants: [
          variant('fp32', 'fp32', 'full', 0.95, 40_000_000, 400, 'a'),
          variant('fp16', 'fp16', 'full', 0.94, 20_000_000, 250, 'b'),
          variant('int8', 'int8', 'full', 0.92, 10_000_000, 150, 'c'),
          variant('lite-fp16', 'fp16', 'lite', 0.88, 5_000_000, 100, 'd'),
          variant('lite-int8', 'int8', 'lite', 0.85, 3_000_000, 80, 'e'),
        ],
      },
      replicas,
      slo: { latencyMs: 50, minAccuracy: 0.8 },
      ...over,
    },
  };
}

export function customObjects(kc: KubeConfig): CustomObjectsApi {
  return kc.makeApiClient(CustomObjectsApi);
}

export async function applyDeployment(kc: KubeConfig, emd: EdgeModelDeploymentInput): Promise<void> {
  await customObjects(kc).createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: emd.metadata.namespace ?? 'default', plural: EMD_PLURAL, body: emd });
}

export async function getDeployment(kc: KubeConfig, namespace: string, name: string): Promise<EdgeModelDeployment> {
  return (await customObjects(kc).getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: EMD_PLURAL, name })) as EdgeModelDeployment;
}

/** Sum of a metric's samples whose labels include the given ones, from Prometheus text. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[4]);
  }
  return sum;
}

/**
 * A GET on the control plane's API with a bearer token: by default the test API server's admin
 * token, which the control plane reviews like any other (TokenReview, SubjectAccessReview).
 */
export function apiGet(baseUrl: string, path: string, token: string = inject('kube').token): Promise<Response> {
  return fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
}

export async function scrape(baseUrl: string, token?: string): Promise<string> {
  const res = await apiGet(baseUrl, '/metrics', token);
  if (!res.ok) throw new Error(`GET ${baseUrl}/metrics: HTTP ${res.status} ${await res.text()}`);
  return res.text();
}

/** Until /readyz answers 200: informers synced, NATS and Redis connected. */
export async function waitReady(baseUrl: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(`${baseUrl}/readyz`).then((r) => r.ok, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${baseUrl}/readyz not 200 within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// An OCR-detection EdgeModelDeployment for simulated fleets, and waits on what the control
// plane writes to Kubernetes: EdgeNodes Ready, deployment status.
import { ApiException, CustomObjectsApi, Watch, type KubeConfig } from '@kubernetes/client-node';
import { EMD_KIND, EMD_PLURAL, EN_PLURAL, GROUP, VERSION, API_VERSION, type EdgeModelDeploymentInput, type EdgeModelDeploymentStatus, type EdgeNode } from '@edgeplane/api';

const digest = (n: number) => n.toString(16).padStart(64, '0');

/**
 * PP-OCRv4 text detection in four variants (sizes of the real artifacts): full at each
 * precision, and an int8 lite one for metered links.
 */
export function ocrDetection(namespace: string, name: string, replicas: number, selector: Record<string, string>): EdgeModelDeploymentInput {
  return {
    apiVersion: API_VERSION,
    kind: EMD_KIND,
    metadata: { name, namespace },
    spec: {
      replicas,
      model: {
        name: 'ppocr-v4-det',
        task: 'text-detection',
        variants: [
          { name: 'det-fp32', precision: 'fp32', profile: 'full', uri: 'nats-obj://ep-models/ppocr-v4-det-fp32.onnx', sha256: digest(0xd32), sizeBytes: 4_700_000, accuracy: 0.8, gflops: 0.6, memoryMiB: 64 },
          { name: 'det-fp16', precision: 'fp16', profile: 'full', uri: 'nats-obj://ep-models/ppocr-v4-det-fp16.onnx', sha256: digest(0xd16), sizeBytes: 2_400_000, accuracy: 0.795, gflops: 0.6, memoryMiB: 48 },
          { name: 'det-int8', precision: 'int8', profile: 'full', uri: 'nats-obj://ep-models/ppocr-v4-det-int8.onnx', sha256: digest(0xd08), sizeBytes: 1_300_000, accuracy: 0.78, gflops: 0.6, memoryMiB: 32 },
          { name: 'det-lite-int8', precision: 'int8', profile: 'lite', uri: 'nats-obj://ep-models/ppocr-v4-det-lite-int8.onnx', sha256: digest(0x1d08), sizeBytes: 600_000, accuracy: 0.74, gflops: 0.3, memoryMiB: 24 },
        ],
      },
      placement: { selector: { matchLabels: selector }, maxPerNode: 1 },
      slo: { latencyMs: 200, minAccuracy: 0.7 },
      tiering: { objective: 'accuracy', battery: { fp16BelowPercent: 50, int8BelowPercent: 20, hysteresisPercent: 5 }, network: { liteOn: ['cellular-4g', 'lora'] } },
    },
  };
}

export async function createDeployment(kc: KubeConfig, body: EdgeModelDeploymentInput): Promise<void> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: body.metadata.namespace ?? 'default', plural: EMD_PLURAL, body });
}

export async function deleteDeployment(kc: KubeConfig, namespace: string, name: string): Promise<void> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  await custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: EMD_PLURAL, name }).catch((err: unknown) => {
    if (!(err instanceof ApiException && err.code === 404)) throw err;
  });
}

/** Counts EdgeNodes matching the selector whose Ready condition is True. */
export async function readyNodes(kc: KubeConfig, labelSelector: string): Promise<number> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const list = (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: EN_PLURAL, labelSelector })) as { items: EdgeNode[] };
  return list.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
}

export async function waitForReadyNodes(kc: KubeConfig, labelSelector: string, want: number, timeoutMs: number, onProgress?: (ready: number) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ready = await readyNodes(kc, labelSelector);
    onProgress?.(ready);
    if (ready >= want) return;
    if (Date.now() > deadline) throw new Error(`${ready} of ${want} EdgeNodes Ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface StatusWatch {
  /** Resolves with the first status the predicate accepts; rejects after timeoutMs. */
  until(predicate: (s: EdgeModelDeploymentStatus, atMs: number) => boolean, timeoutMs: number): Promise<EdgeModelDeploymentStatus>;
  stop(): void;
}

/** Watches one deployment and hands every status it sees, with the time it was seen, to onStatus. */
export async function watchDeploymentStatus(kc: KubeConfig, namespace: string, name: string, onStatus?: (s: EdgeModelDeploymentStatus, atMs: number) => void): Promise<StatusWatch> {
  let latest: EdgeModelDeploymentStatus | undefined;
  const waiters = new Set<{ predicate: (s: EdgeModelDeploymentStatus, atMs: number) => boolean; resolve: (s: EdgeModelDeploymentStatus) => void }>();
  let controller: AbortController | undefined;
  let stopped = false;
  const seen = (status: EdgeModelDeploymentStatus) => {
    const at = Date.now();
    latest = status;
    onStatus?.(status, at);
    for (const w of waiters) {
      if (w.predicate(status, at)) {
        waiters.delete(w);
        w.resolve(status);
      }
    }
  };
  const start = async () => {
    controller = await new Watch(kc).watch(
      `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${EMD_PLURAL}`,
      { fieldSelector: `metadata.name=${name}` },
      (type, obj: { status?: EdgeModelDeploymentStatus }) => {
        if (type !== 'DELETED' && obj.status) seen(obj.status);
      },
      () => {
        // Watches end after a server timeout; start again until stopped.
        if (!stopped) setTimeout(() => void start().catch(() => undefined), 100);
      },
    );
  };
  await start();
  return {
    until(predicate, timeoutMs) {
      if (latest && predicate(latest, Date.now())) return Promise.resolve(latest);
      return new Promise((resolve, reject) => {
        const w = { predicate, resolve: (s: EdgeModelDeploymentStatus) => (clearTimeout(timer), resolve(s)) };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`deployment ${namespace}/${name} status not reached within ${timeoutMs} ms; last: ${JSON.stringify({ ...latest, placements: undefined })}`));
        }, timeoutMs);
        waiters.add(w);
      });
    },
    stop() {
      stopped = true;
      controller?.abort();
    },
  };
}

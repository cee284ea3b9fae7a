// The agent's Prometheus metrics, on their own registry (two agents in one process in tests
// keep their own counts). Inference is counted where every front end meets, the served model,
// so NATS, REST and gRPC requests land in the same series; the rest is read from the workload
// manager when Prometheus scrapes, so nothing on the inference path keeps gauges up to date.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AcceleratorLoad, WorkloadReport } from '@edgeplane/api';
import type { ServedModel } from '../serve/registry.ts';

/** What the agent reads at scrape time. */
export interface AgentMetricsSource {
  reports(): WorkloadReport[];
  load(): AcceleratorLoad[];
  cacheStats(): CacheStats;
}

export interface CacheStats {
  /** Bytes of verified artifacts in the cache. */
  usedBytes: number;
  /** Artifacts in the cache. */
  artifacts: number;
  /** Fetches answered from the cache, and those that downloaded, since start. */
  hits: number;
  misses: number;
}

export interface AgentMetrics {
  readonly registry: Registry;
  /** The model with every infer() counted and timed; the same wrapper for the same model. */
  instrument<M extends ServedModel>(model: M): M;
  /** Where scrape-time gauges come from (the workload manager). */
  watch(source: AgentMetricsSource): void;
  /** The exposition text and its content type, for a /metrics route. */
  scrape(): Promise<{ contentType: string; body: string }>;
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128];

/** The error code of a refused or failed inference (the workloads' typed errors carry one). */
function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z0-9_]{1,64}$/.test(code) ? code : 'INTERNAL';
}

export function createAgentMetrics(options: { defaultMetrics?: boolean } = {}): AgentMetrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'edgeplane_agent_' });
  const registers = [registry];
  const modelLabels = ['workload', 'variant', 'accelerator'] as const;
  const requests = new Counter({
    name: 'edgeplane_agent_inference_requests_total',
    help: 'Inference requests by workload, the variant and accelerator that answered, and code (OK or the error code).',
    labelNames: [...modelLabels, 'code'],
    registers,
  });
  const latency = new Histogram({
    name: 'edgeplane_agent_inference_duration_seconds',
    help: 'Time to answer one inference request, queueing included, by workload, variant and accelerator.',
    labelNames: modelLabels,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const batch = new Histogram({
    name: 'edgeplane_agent_inference_batch_size',
    help: 'Rows (the first dimension of the first input) per inference request.',
    labelNames: modelLabels,
    buckets: BATCH_BUCKETS,
    registers,
  });
  const switches = new Counter({
    name: 'edgeplane_agent_tier_switches_total',
    help: 'Variant switches seen per workload (a tier change: the new variant loaded, then swapped in).',
    labelNames: ['workload', 'from', 'to'],
    registers,
  });

  let source: AgentMetricsSource | undefined;
  const lastVariant = new Map<string, string>();
  const sawVariant = (workload: string, variant: string): void => {
    const before = lastVariant.get(workload);
    if (before !== undefined && before !== variant) switches.inc({ workload, from: before, to: variant });
    lastVariant.set(workload, variant);
  };

  new Gauge({
    name: 'edgeplane_agent_queue_depth',
    help: 'Inference requests waiting for an executor, per accelerator.',
    labelNames: ['accelerator'],
    registers,
    collect() {
      this.reset();
      for (const l of source?.load() ?? []) this.set({ accelerator: l.id }, l.queue);
    },
  });
  new Gauge({
    name: 'edgeplane_agent_executor_utilization_ratio',
    help: 'Busy fraction of the accelerator\'s executors over the last interval, 0 to 1.',
    labelNames: ['accelerator'],
    registers,
    collect() {
      this.reset();
      for (const l of source?.load() ?? []) this.set({ accelerator: l.id }, l.util);
    },
  });
  new Gauge({
    name: 'edgeplane_agent_workloads',
    help: 'Workloads by phase, variant and accelerator (1 per workload).',
    labelNames: [...modelLabels, 'phase'],
    registers,
    collect() {
      this.reset();
      for (const r of source?.reports() ?? []) {
        this.set({ workload: r.key, variant: r.variant, accelerator: r.accelerator, phase: r.phase }, 1);
        // A switch shows in the report even when no request reached the new variant yet.
        sawVariant(r.key, r.variant);
      }
    },
  });
  const cacheGauge = (name: string, help: string, pick: (s: CacheStats) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const s = source?.cacheStats();
        this.set(s ? pick(s) : 0);
      },
    });
  cacheGauge('edgeplane_agent_cache_bytes', 'Bytes of verified artifacts in the artifact cache.', (s) => s.usedBytes);
  cacheGauge('edgeplane_agent_cache_artifacts', 'Artifacts in the artifact cache.', (s) => s.artifacts);
  // Counters read from the store's own counts, so the store needs no prom-client.
  const cacheCounter = (name: string, help: string, pick: (s: CacheStats) => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        const s = source?.cacheStats();
        this.reset();
        if (s) this.inc(pick(s));
      },
    });
  cacheCounter('edgeplane_agent_cache_hits_total', 'Artifact fetches answered from the cache.', (s) => s.hits);
  cacheCounter('edgeplane_agent_cache_misses_total', 'Artifact fetches that downloaded (or read a file:// source) into the cache.', (s) => s.misses);

  const wrapped = new WeakMap<ServedModel, ServedModel>();
  const instrument = <M extends ServedModel>(model: M): M => {
    const known = wrapped.get(model);
    if (known) return known as M;
    const infer: ServedModel['infer'] = async (tensors, opts) => {
      // Read when the request arrives: a switch while it runs is counted against the variant that took it.
      const labels = { workload: model.key, variant: model.assignment.variant.name, accelerator: model.assignment.accelerator };
      sawVariant(labels.workload, labels.variant);
      const rows = tensors[0]?.shape[0];
      if (rows !== undefined && rows > 0) batch.observe(labels, rows);
      const end = latency.startTimer(labels);
      try {
        const out = await model.infer(tensors, opts);
        requests.inc({ ...labels, code: 'OK' });
        return out;
      } catch (err) {
        requests.inc({ ...labels, code: codeOf(err) });
        throw err;
      } finally {
        end();
      }
    };
    // Everything but infer reads through to the model as it is now (its variant and phase change).
    const proxy = new Proxy(model, {
      get(target, prop) {
        if (prop === 'infer') return infer;
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    wrapped.set(model, proxy);
    return proxy;
  };

  return {
    registry,
    instrument,
    watch(s) {
      source = s;
    },
    async scrape() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

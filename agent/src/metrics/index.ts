// The agent's Prometheus metrics. Inference is counted where every front end meets, the served
// model, so NATS, REST and gRPC requests land in the same series; the rest is read from the
// workload manager when Prometheus scrapes, so nothing on the inference path keeps gauges up to
// date. Plain numbers until a scrape (exposition.ts): an agent nobody scrapes never loads
// prom-client.
import { ESCALATION_OUTCOMES, type AcceleratorLoad, type EscalationCounters, type EscalationOutcome, type WorkloadReport } from '@edgeplane/api';
import type { ServedModel } from '../serve/registry.ts';
import { CounterFamily, HistogramFamily, writeSampled } from './exposition.ts';

/** What the agent reads at scrape time. */
export interface AgentMetricsSource {
  reports(): WorkloadReport[];
  load(): AcceleratorLoad[];
  cacheStats(): CacheStats;
  /** Per workload with an escalation tier, cumulative (joint inference). */
  escalation?(): WorkloadEscalation[];
}

export interface WorkloadEscalation {
  workload: string;
  counters: EscalationCounters;
  outcomes: Record<EscalationOutcome, number>;
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

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export function createAgentMetrics(options: { defaultMetrics?: boolean } = {}): AgentMetrics {
  const modelLabels = ['workload', 'variant', 'accelerator'] as const;
  const requests = new CounterFamily(
    'edgeplane_agent_inference_requests_total',
    'Inference requests by workload, the variant and accelerator that answered, and code (OK or the error code).',
    [...modelLabels, 'code'],
  );
  const latency = new HistogramFamily(
    'edgeplane_agent_inference_duration_seconds',
    'Time to answer one inference request, queueing included, by workload, variant and accelerator.',
    modelLabels,
    LATENCY_BUCKETS,
  );
  const batch = new HistogramFamily('edgeplane_agent_inference_batch_size', 'Rows (the first dimension of the first input) per inference request.', modelLabels, BATCH_BUCKETS);
  const switches = new CounterFamily(
    'edgeplane_agent_tier_switches_total',
    'Variant switches seen per workload (a tier change: the new variant loaded, then swapped in).',
    ['workload', 'from', 'to'],
  );

  let source: AgentMetricsSource | undefined;
  const lastVariant = new Map<string, string>();
  const sawVariant = (workload: string, variant: string): void => {
    const before = lastVariant.get(workload);
    if (before !== undefined && before !== variant) switches.inc({ workload, from: before, to: variant });
    lastVariant.set(workload, variant);
  };

  // Process and runtime metrics from prom-client, loaded on the first scrape.
  let runtime: Promise<{ metrics(): Promise<string> }> | undefined;
  const runtimeMetrics = (): Promise<{ metrics(): Promise<string> }> =>
    (runtime ??= import('prom-client').then(({ Registry, collectDefaultMetrics }) => {
      const registry = new Registry();
      collectDefaultMetrics({ register: registry, prefix: 'edgeplane_agent_' });
      // Gauges named like counters, which promtool refuses; the by-type gauges carry the same counts.
      for (const n of ['handles', 'requests', 'resources']) registry.removeSingleMetric(`edgeplane_agent_nodejs_active_${n}_total`);
      return registry;
    }));

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
      const started = performance.now();
      let code = 'OK';
      try {
        return await model.infer(tensors, opts);
      } catch (err) {
        code = codeOf(err);
        throw err;
      } finally {
        latency.observe(labels, (performance.now() - started) / 1000);
        requests.inc({ ...labels, code });
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

  const scrape = async (): Promise<{ contentType: string; body: string }> => {
    const out: string[] = [];
    const reports = source?.reports() ?? [];
    // A switch shows in the report even when no request reached the new variant yet.
    for (const r of reports) sawVariant(r.key, r.variant);
    const load = source?.load() ?? [];
    const cache = source?.cacheStats();
    requests.write(out);
    latency.write(out);
    batch.write(out);
    switches.write(out);
    writeSampled(out, 'gauge', 'edgeplane_agent_queue_depth', 'Inference requests waiting for an executor, per accelerator.', ['accelerator'], load.map((l) => ({ labels: { accelerator: l.id }, value: l.queue })));
    writeSampled(out, 'gauge', 'edgeplane_agent_executor_utilization_ratio', "Busy fraction of the accelerator's executors over the last interval, 0 to 1.", ['accelerator'], load.map((l) => ({ labels: { accelerator: l.id }, value: l.util })));
    writeSampled(
      out,
      'gauge',
      'edgeplane_agent_workloads',
      'Workloads by phase, variant and accelerator (1 per workload).',
      [...modelLabels, 'phase'],
      reports.map((r) => ({ labels: { workload: r.key, variant: r.variant, accelerator: r.accelerator, phase: r.phase }, value: 1 })),
    );
    writeSampled(out, 'gauge', 'edgeplane_agent_cache_bytes', 'Bytes of verified artifacts in the artifact cache.', [], [{ labels: {}, value: cache?.usedBytes ?? 0 }]);
    writeSampled(out, 'gauge', 'edgeplane_agent_cache_artifacts', 'Artifacts in the artifact cache.', [], [{ labels: {}, value: cache?.artifacts ?? 0 }]);
    writeSampled(out, 'counter', 'edgeplane_agent_cache_hits_total', 'Artifact fetches answered from the cache.', [], [{ labels: {}, value: cache?.hits ?? 0 }]);
    writeSampled(out, 'counter', 'edgeplane_agent_cache_misses_total', 'Artifact fetches that downloaded (or read a file:// source) into the cache.', [], [{ labels: {}, value: cache?.misses ?? 0 }]);
    writeEscalation(out, source?.escalation?.() ?? []);
    let body = `${out.join('\n')}\n`;
    if (options.defaultMetrics) body = `${(await (await runtimeMetrics()).metrics()).trimEnd()}\n${body}`;
    return { contentType: CONTENT_TYPE, body };
  };

  return {
    instrument,
    watch(s) {
      source = s;
    },
    scrape,
  };
}

/** Joint inference, read from the workloads' cumulative counters at scrape time. */
function writeEscalation(out: string[], stats: readonly WorkloadEscalation[]): void {
  const per = (value: (e: WorkloadEscalation) => number) => stats.map((e) => ({ labels: { workload: e.workload }, value: value(e) }));
  writeSampled(out, 'counter', 'edgeplane_agent_escalation_requests_total', 'Requests the edge model answered for a workload with an escalation tier (the escalation ratio\'s denominator).', ['workload'], per((e) => e.counters.requests));
  writeSampled(
    out,
    'counter',
    'edgeplane_agent_escalation_outcomes_total',
    'Replies of an escalating workload by outcome (the ep-escalation header): none, answered, sent, budget, unavailable, timeout, unsupported.',
    ['workload', 'outcome'],
    stats.flatMap((e) => ESCALATION_OUTCOMES.map((outcome) => ({ labels: { workload: e.workload, outcome }, value: e.outcomes[outcome] }))),
  );
  writeSampled(out, 'counter', 'edgeplane_agent_escalation_escalated_total', 'Requests sent to the escalation tier.', ['workload'], per((e) => e.counters.escalated));
  writeSampled(out, 'counter', 'edgeplane_agent_escalation_sent_bytes_total', 'Input bytes sent to the escalation tier (tensor payloads).', ['workload'], per((e) => e.counters.bytesUp));
  writeSampled(out, 'counter', 'edgeplane_agent_escalation_answers_changed_total', "Escalations the escalation tier answered differently from the edge model.", ['workload'], per((e) => e.counters.changed));
}

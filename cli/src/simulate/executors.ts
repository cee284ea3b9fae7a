// A simulated node's executors: each assigned workload goes Downloading -> Loading -> Ready
// on timers derived from its size and the node's link, then reports a steady latency.
import type { Accelerator, AcceleratorLoad, Assignment, Network, PlacementPhase, WorkloadAssignment, WorkloadReport } from '@edgeplane/api';
import { downloadMs, latencyOf, loadMs, type Latency, type PhaseTimingOptions } from './phases.ts';

export interface ExecutorsOptions {
  accelerators: readonly Accelerator[];
  /** This node's fraction of peak TOPS. */
  efficiency: number;
  timing: PhaseTimingOptions;
  /** The link now, for download times. */
  network(): Network;
  /** Some workload changed phase. */
  onChange(): void;
}

interface Running {
  spec: WorkloadAssignment;
  phase: PlacementPhase;
  reason?: string;
  latency?: Latency;
  timer?: NodeJS.Timeout;
}

export class SimulatedExecutors {
  readonly #o: ExecutorsOptions;
  readonly #running = new Map<string, Running>();
  readonly #cache = new Set<string>();

  constructor(options: ExecutorsOptions) {
    this.#o = options;
  }

  /** Makes the node run exactly the assignment's workloads; unchanged ones keep running. */
  apply(assignment: Assignment): void {
    let changed = false;
    const wanted = new Set(assignment.workloads.map((w) => w.key));
    for (const [key, r] of this.#running) {
      if (wanted.has(key)) continue;
      clearTimeout(r.timer);
      this.#running.delete(key);
      changed = true;
    }
    for (const spec of assignment.workloads) {
      const current = this.#running.get(spec.key);
      if (current && current.spec.variant.sha256 === spec.variant.sha256 && current.spec.accelerator === spec.accelerator) {
        current.spec = spec;
        continue;
      }
      if (current) clearTimeout(current.timer);
      this.#start(spec);
      changed = true;
    }
    if (changed) this.#o.onChange();
  }

  #start(spec: WorkloadAssignment): void {
    const r: Running = { spec, phase: 'Pending' };
    this.#running.set(spec.key, r);
    const accelerator = this.#o.accelerators.find((a) => a.id === spec.accelerator);
    if (!accelerator) return this.#fail(r, 'UnknownAccelerator');
    if (spec.variant.memoryMiB > accelerator.memoryMiB) return this.#fail(r, 'InsufficientMemory');
    const sha = spec.variant.sha256;
    const load = () => {
      r.phase = 'Loading';
      r.timer = setTimeout(() => {
        r.phase = 'Ready';
        r.timer = undefined;
        r.latency = latencyOf(spec.variant, accelerator, this.#o.efficiency);
        this.#o.onChange();
      }, loadMs(spec.variant.sizeBytes, this.#o.timing));
    };
    if (this.#cache.has(sha)) return load();
    r.phase = 'Downloading';
    r.timer = setTimeout(() => {
      this.#cache.add(sha);
      load();
      this.#o.onChange();
    }, downloadMs(spec.variant.sizeBytes, this.#o.network(), false, this.#o.timing));
  }

  #fail(r: Running, reason: string): void {
    r.phase = 'Failed';
    r.reason = reason;
  }

  reports(): WorkloadReport[] {
    return [...this.#running.values()].map((r) => ({
      key: r.spec.key,
      variant: r.spec.variant.name,
      accelerator: r.spec.accelerator,
      phase: r.phase,
      ...(r.reason ? { reason: r.reason } : {}),
      ...(r.latency ? { p50Ms: r.latency.p50Ms, p99Ms: r.latency.p99Ms } : {}),
    }));
  }

  /** Idle accelerators: the simulator serves no inference traffic. */
  load(): AcceleratorLoad[] {
    return this.#o.accelerators.map((a) => ({ id: a.id, util: 0, queue: 0 }));
  }

  cachedArtifacts(): string[] {
    return [...this.#cache];
  }

  phaseOf(key: string): PlacementPhase | null {
    return this.#running.get(key)?.phase ?? null;
  }

  stop(): void {
    for (const r of this.#running.values()) clearTimeout(r.timer);
    this.#running.clear();
  }
}

// One assigned deployment on this node: fetches and verifies its artifact, loads a session
// per executor, serves through a balancer, and switches variants by loading the new one
// first and swapping atomically, so no request fails during a tier change.
import type { Accelerator, PlacementPhase, WorkloadAssignment, WorkloadReport } from '@edgeplane/api';
import type { Logger } from 'pino';
import type { ArtifactStore } from '../artifacts/index.ts';
import type { TrustPolicy } from '../artifacts/trust.ts';
import { Balancer, type LaneLoad } from '../balancer/index.ts';
import { batchable, checkInputs, loadSession, type Isolation, rowsOf, sessionExecutor, type InferInputs, type LoadedSession, type TensorSpec, type WireTensor } from '../runtime/index.ts';
import { AcceleratorNotFoundError, LoadCrashedError, ModelNotReadyError } from './errors.ts';
import type { LoadJournal } from './load-journal.ts';
import { isTerminalReason, reasonOf } from './reasons.ts';

export interface WorkloadContext {
  store: ArtifactStore;
  /** Marks loads in progress on disk, so a load that kills the process is not repeated blindly. */
  journal?: LoadJournal;
  /** Which signatures an artifact needs before it may load. */
  trust: TrustPolicy;
  accelerators: readonly Accelerator[];
  log: Logger;
  /** Sessions per accelerator; more than one lets a multi-core CPU run requests side by side. */
  sessionsPerAccelerator: number;
  /** Also run on every other accelerator that supports the variant's precision. */
  spread: 'assigned' | 'compatible';
  threads: number;
  isolation: Isolation;
  maxQueue: number;
  onEvent: (e: WorkloadEvent) => void;
  /** Phase, reason or failed variant changed: worth a heartbeat now rather than at the next tick. */
  onReportChange?: () => void;
}

export interface WorkloadEvent {
  key: string;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** What runs: the sessions of one variant behind one balancer. */
interface Runtime {
  assignment: WorkloadAssignment;
  sessions: LoadedSession[];
  balancer: Balancer<InferInputs, WireTensor[]>;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  batchable: boolean;
  fallbackReason?: string;
}

export interface InferOptions {
  timeoutMs?: number;
}

/** Changes that need new sessions; anything else is updated in place. */
export function needsReload(a: WorkloadAssignment, b: WorkloadAssignment): boolean {
  return (
    a.variant.sha256 !== b.variant.sha256 ||
    // A new signature is checked again, on the bytes, before it counts.
    a.variant.signature !== b.variant.signature ||
    a.variant.name !== b.variant.name ||
    a.accelerator !== b.accelerator ||
    a.maxBatch !== b.maxBatch ||
    a.maxQueueDelayMs !== b.maxQueueDelayMs
  );
}

export class Workload {
  readonly key: string;
  #target: WorkloadAssignment;
  #phase: PlacementPhase = 'Pending';
  #reason: string | undefined;
  #message: string | undefined;
  #active: Runtime | null = null;
  #draining = new Set<Runtime>();
  #generation = 0;
  #removed = false;
  /** Reason the current target did not come up, if it did not. */
  #failure: string | undefined;
  /** The target that did not come up while the previous variant keeps serving. */
  #failedVariant: string | undefined;
  readonly #ctx: WorkloadContext;
  readonly #log: Logger;

  constructor(assignment: WorkloadAssignment, ctx: WorkloadContext) {
    this.key = assignment.key;
    this.#target = assignment;
    this.#ctx = ctx;
    this.#log = ctx.log.child({ workload: assignment.key });
  }

  get assignment(): WorkloadAssignment {
    return this.#active?.assignment ?? this.#target;
  }

  get phase(): PlacementPhase {
    return this.#phase;
  }

  get ready(): boolean {
    return this.#active !== null;
  }

  get inputs(): TensorSpec[] {
    return this.#active?.inputs ?? [];
  }

  get outputs(): TensorSpec[] {
    return this.#active?.outputs ?? [];
  }

  /** Starts loading the first assignment; progress shows in report(). */
  start(): Promise<void> {
    return this.#load(this.#target);
  }

  /** Takes a new assignment for this key: in place, a retry, or a switch of variant. */
  update(next: WorkloadAssignment): Promise<void> {
    const prev = this.#target;
    this.#target = next;
    const current = this.#active?.assignment;
    if (current && !needsReload(current, next)) {
      // Back to (or still on) what runs: update in place and drop any switch in progress.
      this.#active!.assignment = next;
      this.#generation++;
      if (this.#failure) {
        this.#failure = undefined;
        this.#set('Ready', this.#active!.fallbackReason ? 'ProviderFallback' : undefined, this.#active!.fallbackReason);
      }
      return Promise.resolve();
    }
    if (!needsReload(prev, next)) {
      // Same target: retry only a failure that may pass (a fetch that broke off, a full cache).
      if (this.#failure && !isTerminalReason(this.#failure)) return this.#load(next);
      return Promise.resolve();
    }
    return this.#load(next);
  }

  async infer(tensors: readonly WireTensor[], options: InferOptions = {}): Promise<WireTensor[]> {
    const rt = this.#active;
    if (!rt) throw new ModelNotReadyError(this.key, this.#phase);
    const inputs = checkInputs(rt.inputs, tensors);
    return rt.balancer.submit(inputs, options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {});
  }

  report(): WorkloadReport {
    const a = this.assignment;
    const latency = this.#active?.balancer.latency();
    return {
      key: this.key,
      variant: a.variant.name,
      accelerator: a.accelerator,
      phase: this.#phase,
      ...(this.#reason ? { reason: this.#reason } : {}),
      ...(this.#message ? { message: this.#message.slice(0, 1024) } : {}),
      ...(this.#failedVariant !== undefined && this.#failedVariant !== a.variant.name ? { failedVariant: this.#failedVariant } : {}),
      ...(latency ? { p50Ms: round(latency.p50Ms), p99Ms: round(latency.p99Ms), rps: round(latency.rps) } : {}),
    };
  }

  takeLoad(): LaneLoad[] {
    const rts = [...(this.#active ? [this.#active] : []), ...this.#draining];
    return rts.flatMap((rt) => rt.balancer.takeLoad());
  }

  queued(): number {
    return this.#active?.balancer.queued ?? 0;
  }

  /** Drains what is queued and running, then releases every session. */
  async remove(): Promise<void> {
    this.#removed = true;
    this.#generation++;
    const rt = this.#active;
    this.#active = null;
    this.#phase = 'Pending';
    await Promise.all([...(rt ? [this.#retire(rt)] : []), ...[...this.#draining].map((d) => this.#retire(d))]);
  }

  #set(phase: PlacementPhase, reason?: string, message?: string, failedVariant?: string): void {
    const changed = phase !== this.#phase || reason !== this.#reason || failedVariant !== this.#failedVariant;
    this.#phase = phase;
    this.#reason = reason;
    this.#message = message;
    this.#failedVariant = failedVariant;
    if (!changed) return;
    this.#log.debug({ phase, reason }, 'workload phase');
    this.#ctx.onReportChange?.();
  }

  async #load(target: WorkloadAssignment): Promise<void> {
    const gen = ++this.#generation;
    const switching = this.#active !== null;
    const stale = () => gen !== this.#generation || this.#removed;
    this.#failure = undefined;
    // While switching, the old variant keeps serving and the phase stays Ready.
    if (!switching) this.#set('Downloading');
    let rt: Runtime | null = null;
    try {
      const accelerators = this.#executorAccelerators(target);
      // An unsigned variant on a node that requires signatures is refused before any download.
      this.#ctx.trust.admit(target.variant);
      await this.#ctx.store.fetch({ uri: target.variant.uri, sha256: target.variant.sha256, sizeBytes: target.variant.sizeBytes });
      if (stale()) return;
      if (!switching) this.#set('Loading');
      const bytes = await this.#ctx.store.readVerified(target.variant.sha256);
      // After the digest, before any session: the exact bytes that would load, cached or fresh.
      const signedBy = this.#ctx.trust.verify(target.variant, bytes);
      if (signedBy) this.#log.info({ variant: target.variant.name, key: signedBy.source }, 'artifact signature verified');
      this.#ctx.store.pin(target.variant.sha256);
      const journal = this.#ctx.journal;
      if (await journal?.takeCrashed(target.variant.sha256)) {
        this.#ctx.store.unpin(target.variant.sha256);
        throw new LoadCrashedError(target.variant.name);
      }
      await journal?.begin(target.variant.sha256);
      try {
        rt = await this.#buildRuntime(target, bytes, accelerators);
      } finally {
        await journal?.end(target.variant.sha256);
      }
      if (stale()) {
        await this.#retire(rt);
        return;
      }
      const old = this.#active;
      this.#active = rt; // the swap: new requests go to the new balancer from here on
      const fallback = rt.fallbackReason;
      this.#set('Ready', fallback ? 'ProviderFallback' : undefined, fallback);
      if (fallback) this.#ctx.onEvent({ key: this.key, type: 'Warning', reason: 'ProviderFallback', message: fallback });
      const loadMs = Math.round(Math.max(...rt.sessions.map((x) => x.loadMs)));
      const warmupMs = Math.round(Math.max(...rt.sessions.map((x) => x.warmupMs)));
      this.#ctx.onEvent({
        key: this.key,
        type: 'Normal',
        reason: old ? 'VariantSwitched' : 'Loaded',
        message: `${target.variant.name} on ${target.accelerator} (${rt.sessions.map((x) => x.providers.join('+')).join(', ')}): loaded in ${loadMs} ms, warm-up ${warmupMs} ms`,
      });
      this.#log.info({ variant: target.variant.name, accelerator: target.accelerator, sessions: rt.sessions.length, loadMs, warmupMs }, old ? 'variant switched' : 'workload ready');
      if (old) await this.#retire(old);
    } catch (err) {
      if (stale()) return;
      const reason = reasonOf(err);
      const message = err instanceof Error ? err.message : String(err);
      this.#log.warn({ variant: target.variant.name, reason, err: message }, switching ? 'variant switch failed; the previous variant keeps serving' : 'workload failed');
      this.#ctx.onEvent({ key: this.key, type: 'Warning', reason, message });
      this.#failure = reason;
      if (switching) {
        // Still serving the previous variant: Ready, with why the new one did not come up and
        // which one that was, so the control plane can tell this from a switch in progress.
        this.#set(this.#phase, reason, `switch to ${target.variant.name} failed: ${message}`, target.variant.name);
      } else {
        this.#set('Failed', reason, message);
      }
    }
  }

  #executorAccelerators(target: WorkloadAssignment): Accelerator[] {
    const assigned = this.#ctx.accelerators.find((a) => a.id === target.accelerator);
    if (!assigned) throw new AcceleratorNotFoundError(target.accelerator, this.#ctx.accelerators.map((a) => a.id));
    if (this.#ctx.spread === 'assigned') return [assigned];
    const others = this.#ctx.accelerators.filter((a) => a.id !== assigned.id && a.precisions.includes(target.variant.precision));
    return [assigned, ...others];
  }

  async #buildRuntime(target: WorkloadAssignment, bytes: Uint8Array, accelerators: Accelerator[]): Promise<Runtime> {
    const sessions: LoadedSession[] = [];
    const executors = [];
    try {
      for (const acc of accelerators) {
        for (let i = 0; i < this.#ctx.sessionsPerAccelerator; i++) {
          const label = `${target.key}@${target.variant.name} on ${acc.id}`;
          const s = await loadSession(bytes, acc, { threads: this.#ctx.threads, isolation: this.#ctx.isolation, logger: this.#log, label });
          sessions.push(s);
          executors.push(sessionExecutor(s, `${acc.id}/${i}`, acc.id, label, Math.max(0.05, s.steadyMs)));
        }
      }
    } catch (err) {
      await Promise.all(sessions.map((s) => s.release().catch(() => undefined)));
      this.#ctx.store.unpin(target.variant.sha256);
      throw err;
    }
    const first = sessions[0]!;
    const canBatch = batchable(first.inputs) && batchable(first.outputs);
    const fallbackReason = sessions.find((s) => s.fallbackReason)?.fallbackReason;
    return {
      assignment: target,
      sessions,
      inputs: first.inputs,
      outputs: first.outputs,
      batchable: canBatch,
      ...(fallbackReason ? { fallbackReason } : {}),
      balancer: new Balancer<InferInputs, WireTensor[]>({
        name: target.key,
        executors,
        maxBatch: canBatch ? target.maxBatch : 1,
        maxQueueDelayMs: canBatch ? target.maxQueueDelayMs : 0,
        maxQueue: this.#ctx.maxQueue,
        rowsOf: canBatch ? rowsOf : () => 1,
      }),
    };
  }

  async #retire(rt: Runtime): Promise<void> {
    this.#draining.add(rt);
    await rt.balancer.drain();
    this.#draining.delete(rt);
    await Promise.all(rt.sessions.map((s) => s.release().catch(() => undefined)));
    this.#ctx.store.unpin(rt.assignment.variant.sha256);
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

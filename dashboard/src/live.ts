// One EventSource for the page: fleet upserts always, one node's history samples while the
// node view is open. On every `hello` (first connect and each reconnect) the snapshot is read
// again, so nothing missed while disconnected stays stale. Listeners run at most once a frame.
import type { DashboardEvent, HistorySample } from '../../api/src/dashboard.ts';
import type { DashboardApi } from './api.ts';
import { applyEvent, applySnapshot, emptyState, type FleetState } from './fleet-state.ts';

const EVENT_TYPES: DashboardEvent['type'][] = ['hello', 'node', 'node-removed', 'deployment', 'deployment-removed', 'sample'];

export type Connection = 'connecting' | 'live' | 'reconnecting' | 'unauthorised';

export interface LiveSnapshot {
  state: FleetState;
  /** Bumped on every applied change, for memoised views. */
  version: number;
  connection: Connection;
  error: string | null;
  /** Nodes and deployments changed since the previous notification. */
  changedNodes: Set<string>;
  changedDeployments: Set<string>;
}

type Listener = (live: LiveSnapshot) => void;
type SampleListener = (node: string, sample: HistorySample) => void;

export class LiveFleet {
  private state = emptyState();
  private version = 0;
  private connection: Connection = 'connecting';
  private error: string | null = null;
  private source: EventSource | null = null;
  private node: string | undefined;
  private listeners = new Set<Listener>();
  private sampleListeners = new Set<SampleListener>();
  private changedNodes = new Set<string>();
  private changedDeployments = new Set<string>();
  private frame = 0;
  private loading: AbortController | null = null;

  private readonly api: DashboardApi;

  constructor(api: DashboardApi) {
    this.api = api;
  }

  snapshot(): LiveSnapshot {
    return {
      state: this.state,
      version: this.version,
      connection: this.connection,
      error: this.error,
      changedNodes: this.changedNodes,
      changedDeployments: this.changedDeployments,
    };
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onSample(listener: SampleListener): () => void {
    this.sampleListeners.add(listener);
    return () => this.sampleListeners.delete(listener);
  }

  /** (Re)opens the stream; with a node, its history samples come too. */
  connect(node?: string): void {
    if (this.source && this.node === node) return;
    this.source?.close();
    this.node = node;
    const source = new EventSource(this.api.routes.events(node), { withCredentials: true });
    this.source = source;
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (e) => this.receive(source, (e as MessageEvent<string>).data));
    }
    source.onerror = () => {
      if (this.source !== source) return;
      // EventSource retries by itself unless the server refused (then readyState is CLOSED).
      if (source.readyState === EventSource.CLOSED) void this.probeClosed(source);
      else this.setConnection('reconnecting');
    };
  }

  close(): void {
    this.source?.close();
    this.source = null;
    this.loading?.abort();
  }

  private receive(source: EventSource, data: string): void {
    if (this.source !== source) return;
    let event: DashboardEvent;
    try {
      event = JSON.parse(data) as DashboardEvent;
    } catch {
      return;
    }
    const change = applyEvent(this.state, event);
    switch (change.kind) {
      case 'hello':
        performance.mark('ep:hello');
        void this.load();
        return;
      case 'node':
        this.changedNodes.add(change.name);
        break;
      case 'deployment':
        this.changedDeployments.add(change.key);
        break;
      case 'sample':
        for (const l of this.sampleListeners) l(change.node, change.sample);
        return;
      case 'none':
        return;
    }
    // Before the first snapshot the upserts only wait in the state: rendering a partial fleet
    // each frame while 5,000 rows load slows the first screen; the snapshot marks all changed.
    if (this.state.atMs === null) return;
    this.version++;
    this.schedule();
  }

  private async load(): Promise<void> {
    this.loading?.abort();
    const controller = new AbortController();
    this.loading = controller;
    try {
      // Marks for the first load's split (bench dashboard reads them); cheap, and only the first counts.
      performance.mark('ep:fleet-request');
      const snapshot = await this.api.fleet(controller.signal);
      performance.mark('ep:fleet-parsed');
      this.state = applySnapshot(this.state, snapshot);
      performance.mark('ep:fleet-state');
      this.connection = 'live';
      this.error = null;
      this.version++;
      this.changedNodes = new Set(this.state.nodes.keys());
      this.changedDeployments = new Set(this.state.deployments.keys());
      this.schedule();
    } catch (err) {
      if (controller.signal.aborted) return;
      const e = err as { status?: number; message?: string };
      this.error = `loading the fleet failed: ${e.message ?? String(err)}`;
      if (e.status === 401) this.connection = 'unauthorised';
      this.schedule();
    }
  }

  /** A closed stream is either a refused token (401) or a server that went away. */
  private async probeClosed(source: EventSource): Promise<void> {
    try {
      await this.api.fleet();
      // Reachable and authorised: open the stream again after a pause.
      setTimeout(() => {
        if (this.source === source) {
          this.source = null;
          this.connect(this.node);
        }
      }, 2000);
      this.setConnection('reconnecting');
    } catch (err) {
      const e = err as { status?: number; message?: string };
      if (e.status === 401) {
        this.error = 'not signed in: open the address `make up` printed (it carries a token)';
        this.setConnection('unauthorised');
      } else {
        this.error = `the control plane is unreachable: ${e.message ?? String(err)}`;
        this.setConnection('reconnecting');
        setTimeout(() => {
          if (this.source === source) {
            this.source = null;
            this.connect(this.node);
          }
        }, 3000);
      }
    }
  }

  private setConnection(c: Connection): void {
    this.connection = c;
    this.schedule();
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      const snap = this.snapshot();
      this.changedNodes = new Set();
      this.changedDeployments = new Set();
      for (const l of this.listeners) l(snap);
    });
  }
}

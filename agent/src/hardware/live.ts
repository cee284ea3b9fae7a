// Power and link as of now, for every heartbeat: re-read from the root (a fixture's battery
// file can be rewritten step by step in a demo), with the latest link measurement, and the
// override file re-read whenever it changes, so power and link can be declared at run time.
import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Network, Power } from '@edgeplane/api';
import { rootFs } from './rootfs.ts';
import { probePower } from './power.ts';
import { probeNetwork } from './network.ts';
import { applyNetworkOverride, applyPowerOverride, readOverride, type OverrideFile } from './override.ts';

export interface LiveState {
  power: Power;
  network: Network;
  labels: Record<string, string>;
}

export interface LiveProbe {
  read(): Promise<LiveState>;
  /** The latest bandwidth and RTT measured against the control plane. */
  setMeasured(m: { rttMs: number; bandwidthMbps: number }): void;
  /** Whether the link as last read is metered. */
  metered(): boolean;
}

export interface LiveProbeOptions {
  root: string;
  overrideFile?: string;
  /** The override as read at start, so the first read does not parse it again. */
  override: OverrideFile | null;
  log: Logger;
}

export function createLiveProbe(opts: LiveProbeOptions): LiveProbe {
  const fs = rootFs(opts.root);
  let override = opts.override;
  let overrideMtimeMs = -1;
  let measured: { rttMs: number; bandwidthMbps: number } | null = null;
  let lastMetered = false;

  const refreshOverride = async () => {
    if (!opts.overrideFile) return;
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(opts.overrideFile)).mtimeMs;
    } catch {
      mtimeMs = 0; // removed: keep the last good declaration
    }
    if (overrideMtimeMs === -1) overrideMtimeMs = mtimeMs;
    if (mtimeMs === overrideMtimeMs || mtimeMs === 0) return;
    overrideMtimeMs = mtimeMs;
    try {
      override = await readOverride(opts.overrideFile);
      opts.log.info({ file: opts.overrideFile }, 'override file re-read');
    } catch (err) {
      opts.log.warn({ err }, 'override file invalid; keeping the last good one');
    }
  };

  return {
    async read() {
      await refreshOverride();
      const [power, probed] = await Promise.all([probePower(fs), probeNetwork(fs)]);
      // Measured throughput replaces the link speed, which is only an upper bound.
      const network: Network = measured ? { ...probed, ...measured } : probed;
      const state: LiveState = override
        ? { power: applyPowerOverride(power, override), network: applyNetworkOverride(network, override), labels: override.labels }
        : { power, network, labels: {} };
      lastMetered = state.network.metered ?? false;
      return state;
    },
    setMeasured(m) {
      measured = { rttMs: m.rttMs, bandwidthMbps: m.bandwidthMbps };
    },
    metered: () => lastMetered,
  };
}

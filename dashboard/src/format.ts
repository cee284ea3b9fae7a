// Small formatters shared by the views.
import type { DashLink, DashPower } from '../../api/src/dashboard.ts';

export const LINK_LABEL: Record<DashLink['type'], string> = {
  ethernet: 'Ethernet',
  wifi: 'Wi-Fi',
  'cellular-5g': '5G',
  'cellular-4g': 'LTE',
  lora: 'LoRa',
};

/** Link classes, best first; the timeline plots their index. */
export const LINK_ORDER: DashLink['type'][] = ['lora', 'cellular-4g', 'cellular-5g', 'wifi', 'ethernet'];
export const PRECISION_ORDER = ['int8', 'fp16', 'fp32'] as const;

export function linkText(link: DashLink | null): string {
  if (!link) return '—';
  const bw = link.bandwidthMbps === null ? '' : ` ${formatMbps(link.bandwidthMbps)}`;
  return `${LINK_LABEL[link.type]}${bw}${link.metered ? ', metered' : ''}`;
}

export function formatMbps(mbps: number): string {
  return mbps >= 1000 ? `${(mbps / 1000).toFixed(1)} Gb/s` : `${mbps >= 10 ? mbps.toFixed(0) : mbps.toFixed(1)} Mb/s`;
}

export function powerText(power: DashPower | null): string {
  if (!power) return '—';
  if (power.batteryPercent === null) return power.source;
  return `${Math.round(power.batteryPercent)}%${power.charging ? ' charging' : ''}`;
}

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  return value >= 100 ? `${value.toFixed(0)} ms` : `${value.toFixed(1)} ms`;
}

export function ago(atMs: number | null, nowMs = Date.now()): string {
  if (atMs === null) return 'never';
  const s = Math.max(0, Math.round((nowMs - atMs) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

/** 24-hour local time, as the plots' axes show it. */
export function clock(tMs: number): string {
  const d = new Date(tMs);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

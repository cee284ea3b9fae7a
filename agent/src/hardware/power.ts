// Power source from /sys/class/power_supply: a battery that no online mains or USB supply
// feeds means the node runs on it.
import type { Power } from '@edgeplane/api';
import type { RootFs } from './rootfs.ts';

export interface SupplyReading {
  name: string;
  /** Mains, USB, Battery, UPS... */
  type: string;
  online?: boolean;
  capacity?: number;
  /** Charging, Discharging, Full, Not charging, Unknown. */
  status?: string;
}

/** Pure: readings to the Power of the api. No supply at all is a server on mains. */
export function powerFrom(readings: readonly SupplyReading[]): Power {
  const batteries = readings.filter((r) => r.type === 'Battery' && r.capacity !== undefined);
  const external = readings.some((r) => (r.type === 'Mains' || r.type === 'USB' || r.type === 'UPS') && r.online === true);
  const battery = batteries[0];
  if (!battery) return { source: 'mains' };
  const discharging = battery.status === 'Discharging';
  const charging = battery.status === 'Charging';
  const capacity = Math.max(0, Math.min(100, battery.capacity ?? 0));
  if (external && !discharging) return { source: 'mains', batteryPercent: capacity, charging };
  return { source: 'battery', batteryPercent: capacity, charging: false };
}

export async function readSupplies(fs: RootFs): Promise<SupplyReading[]> {
  const out: SupplyReading[] = [];
  for (const name of await fs.list('sys/class/power_supply')) {
    const base = `sys/class/power_supply/${name}`;
    const type = await fs.text(`${base}/type`);
    if (type === null) continue;
    const reading: SupplyReading = { name, type };
    const online = await fs.text(`${base}/online`);
    if (online !== null) reading.online = online.trim() === '1';
    const capacity = await fs.text(`${base}/capacity`);
    if (capacity !== null && Number.isFinite(Number(capacity))) reading.capacity = Number(capacity);
    const status = await fs.text(`${base}/status`);
    if (status !== null) reading.status = status.trim();
    out.push(reading);
  }
  return out;
}

export async function probePower(fs: RootFs): Promise<Power> {
  return powerFrom(await readSupplies(fs));
}

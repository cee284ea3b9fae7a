import { describe, expect, it } from 'vitest';
import { parseCpuinfo, parseMeminfo } from './cpuinfo.ts';
import { estimateCpuTops } from './cpu-capability.ts';
import { powerFrom, type SupplyReading } from './power.ts';
import { networkFrom, parseDefaultRoute, type LinkReading } from './network.ts';

describe('powerFrom', () => {
  const rows: { name: string; input: SupplyReading[]; want: object }[] = [
    { name: 'no supply is a server on mains', input: [], want: { source: 'mains' } },
    { name: 'battery discharging', input: [{ name: 'BAT0', type: 'Battery', capacity: 40, status: 'Discharging' }], want: { source: 'battery', batteryPercent: 40, charging: false } },
    {
      name: 'battery charging from mains',
      input: [
        { name: 'AC', type: 'Mains', online: true },
        { name: 'BAT0', type: 'Battery', capacity: 80, status: 'Charging' },
      ],
      want: { source: 'mains', batteryPercent: 80, charging: true },
    },
    {
      name: 'adapter present but battery discharging wins',
      input: [
        { name: 'AC', type: 'Mains', online: true },
        { name: 'BAT0', type: 'Battery', capacity: 30, status: 'Discharging' },
      ],
      want: { source: 'battery', batteryPercent: 30, charging: false },
    },
    { name: 'offline adapter, full battery', input: [{ name: 'AC', type: 'Mains', online: false }, { name: 'BAT0', type: 'Battery', capacity: 100, status: 'Full' }], want: { source: 'battery', batteryPercent: 100, charging: false } },
    { name: 'a UPS without capacity is ignored', input: [{ name: 'ups', type: 'UPS', online: true }], want: { source: 'mains' } },
  ];
  for (const row of rows) it(row.name, () => expect(powerFrom(row.input)).toEqual(row.want));
});

describe('networkFrom', () => {
  const eth: LinkReading = { name: 'eth0', wireless: false, up: true, speedMbps: 1000 };
  const wifi: LinkReading = { name: 'wlan0', wireless: true, up: true };
  const wwan: LinkReading = { name: 'wwan0', wireless: false, up: true, devtype: 'wwan' };
  const rows: { name: string; links: LinkReading[]; route?: string; want: object }[] = [
    { name: 'ethernet preferred over wifi', links: [wifi, eth], want: { type: 'ethernet', bandwidthMbps: 1000, metered: false } },
    { name: 'default route wins over preference', links: [eth, wwan], route: 'wwan0', want: { type: 'cellular-4g', metered: true } },
    { name: 'down ethernet skipped', links: [{ ...eth, up: false }, wifi], want: { type: 'wifi', metered: false } },
    { name: 'devtype wwan with an odd name', links: [{ name: 'usb-modem', wireless: false, up: true, devtype: 'wwan' }], want: { type: 'cellular-4g', metered: true } },
    { name: 'nothing recognisable', links: [], want: { type: 'ethernet', metered: false } },
  ];
  for (const row of rows) it(row.name, () => expect(networkFrom(row.links, row.route)).toEqual(row.want));

  it('parseDefaultRoute picks the lowest metric', () => {
    const text = 'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n' + 'wwan0\t00000000\t01\t0003\t0\t0\t700\t0\n' + 'eth0\t00000000\t01\t0003\t0\t0\t100\t0\n';
    expect(parseDefaultRoute(text)).toBe('eth0');
    expect(parseDefaultRoute('Iface\tDestination\n')).toBeUndefined();
  });
});

describe('CPU estimate', () => {
  const cpu = (flags: string, extra = '') => `processor\t: 0\nmodel name\t: Test CPU @ 2.00GHz\nflags\t: ${flags}\n${extra}\n`;
  const rows = [
    { name: 'sse only', text: cpu('sse sse2'), want: { fp32: 0.016, fp16: 0.016, int8: 0.032 } },
    { name: 'avx2', text: cpu('sse avx avx2 fma'), want: { fp32: 0.032, fp16: 0.032, int8: 0.064 } },
    { name: 'avx512 vnni', text: cpu('avx2 avx512f avx512_vnni'), want: { fp32: 0.064, fp16: 0.064, int8: 0.256 } },
    { name: 'amx', text: cpu('avx2 avx512f avx512_vnni amx_tile amx_int8'), want: { fp32: 0.064, fp16: 0.064, int8: 4.096 } },
  ];
  for (const row of rows) it(row.name, () => expect(estimateCpuTops(parseCpuinfo(row.text))).toEqual(row.want));

  it('counts physical cores when the file says', () => {
    const two = [0, 1, 2, 3].map((i) => `processor\t: ${i}\nmodel name\t: X\nphysical id\t: 0\ncpu cores\t: 2\nflags\t: avx2\n`).join('\n');
    expect(parseCpuinfo(two)).toMatchObject({ logical: 4, physical: 2, arch: 'x86_64' });
  });

  it('parseMeminfo reads MemTotal in MiB', () => {
    expect(parseMeminfo('MemTotal:       2048000 kB\nMemFree: 1 kB')).toBe(2000);
    expect(parseMeminfo('garbage')).toBeUndefined();
  });
});

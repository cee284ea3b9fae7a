import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { discover } from './discover.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url));

// Each fixture: the facts that must hold, then the whole capability against a checked-in file.
const rows = [
  { name: 'x86-vnni-server', accelerators: ['cpu0:CPU'], cpuFeature: 'avx512_vnni', power: 'mains', link: 'ethernet' },
  { name: 'jetson-agx-xavier', accelerators: ['cpu0:CPU', 'gpu0:GPU', 'npu0:NPU', 'npu1:NPU'], cpuFeature: 'asimdhp', power: 'mains', link: 'ethernet' },
  { name: 'ascend310-gateway', accelerators: ['cpu0:CPU', 'npu0:NPU'], cpuFeature: 'asimddp', power: 'mains', link: 'ethernet' },
  { name: 'rpi4-battery', accelerators: ['cpu0:CPU'], cpuFeature: 'neon', power: 'battery', link: 'cellular-4g' },
  { name: 'ncs2-usb', accelerators: ['cpu0:CPU', 'vpu0:VPU'], cpuFeature: 'avx2', power: 'mains', link: 'ethernet' },
  { name: 'coral-usb', accelerators: ['cpu0:CPU', 'tpu0:TPU'], cpuFeature: 'neon', power: 'mains', link: 'ethernet' },
  { name: 'laptop-wifi', accelerators: ['cpu0:CPU'], cpuFeature: 'avx512_vnni', power: 'mains', link: 'wifi' },
  { name: 'lte-gateway', accelerators: ['cpu0:CPU'], cpuFeature: 'neon', power: 'mains', link: 'cellular-4g' },
] as const;

describe('discovery on fixture roots', () => {
  for (const row of rows) {
    it(row.name, async () => {
      const { override, ...found } = await discover({ root: fixture(row.name) });
      expect(override).toBeNull();
      expect(found.accelerators.map((a) => `${a.id}:${a.type}`)).toEqual(row.accelerators);
      expect(found.accelerators[0]?.features).toContain(row.cpuFeature);
      expect(found.power.source).toBe(row.power);
      expect(found.network.type).toBe(row.link);
      await expect(`${JSON.stringify(found, null, 2)}\n`).toMatchFileSnapshot(`../../fixtures/${row.name}.expected.json`);
    });
  }

  it('an empty root still yields a CPU on mains', async () => {
    const found = await discover({ root: fixture('does-not-exist') });
    expect(found.accelerators).toHaveLength(1);
    expect(found.accelerators[0]).toMatchObject({ id: 'cpu0', type: 'CPU' });
    expect(found.power).toEqual({ source: 'mains' });
  });
});

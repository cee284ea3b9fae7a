import { describe, expect, it } from 'vitest';
import { float16ToFloat32, float32ToFloat16 } from './half.ts';

describe('binary16', () => {
  it('every half value survives a round trip through a number', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = float16ToFloat32(bits);
      if (Number.isNaN(value)) expect(Number.isNaN(float16ToFloat32(float32ToFloat16(value)))).toBe(true);
      else expect(float32ToFloat16(value), `0x${bits.toString(16)}`).toBe(bits);
    }
  });

  const rows: Array<{ name: string; value: number; bits: number }> = [
    { name: 'one', value: 1, bits: 0x3c00 },
    { name: 'minus two', value: -2, bits: 0xc000 },
    { name: 'largest finite', value: 65504, bits: 0x7bff },
    { name: 'overflow to infinity', value: 1e6, bits: 0x7c00 },
    { name: 'rounds up into infinity', value: 65520, bits: 0x7c00 },
    { name: 'smallest subnormal', value: 2 ** -24, bits: 0x0001 },
    { name: 'underflow to zero', value: 2 ** -26, bits: 0x0000 },
    { name: 'ties to even (down)', value: 1 + 2 ** -11, bits: 0x3c00 },
    { name: 'ties to even (up)', value: 1 + 3 * 2 ** -11, bits: 0x3c02 },
  ];
  for (const row of rows) it(row.name, () => expect(float32ToFloat16(row.value)).toBe(row.bits));
});

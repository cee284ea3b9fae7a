import { describe, expect, it } from 'vitest';
import { summariseTrace } from './ort-profile.ts';

describe('summariseTrace', () => {
  it('sums kernel time per operator per run and takes the median model_run', () => {
    const node = (op: string, dur: number) => ({ cat: 'Node', name: `${op}_1_kernel_time`, dur, args: { op_name: op } });
    const events = [
      node('QLinearConv', 300),
      node('QLinearConv', 100),
      node('QLinearMul', 100),
      { cat: 'Node', name: 'QLinearMul_fence_before', dur: 999 },
      node('QLinearConv', 300),
      node('QLinearConv', 100),
      node('QLinearMul', 100),
      { cat: 'Session', name: 'model_run', dur: 700 },
      { cat: 'Session', name: 'model_run', dur: 600 },
      { cat: 'Session', name: 'model_run', dur: 900 },
    ];
    const p = summariseTrace(events, 2);
    expect(p.kernelUsPerRun).toBe(500);
    expect(p.modelRunP50Us).toBe(700);
    expect(p.ops).toEqual([
      { op: 'QLinearConv', usPerRun: 400, share: 0.8, nodes: 2 },
      { op: 'QLinearMul', usPerRun: 100, share: 0.2, nodes: 1 },
    ]);
  });
});

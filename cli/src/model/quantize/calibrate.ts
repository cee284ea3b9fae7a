// Calibration: run the prepared fp32 graph with every activation to quantize exposed as an
// output, over the sample inputs, and keep each tensor's range.
import { ModelError } from '../errors.ts';
import { DataType, encodeModel, type Model } from '../onnx/proto.ts';
import { openSession, run } from '../runtime.ts';
import { RangeTracker, type Range } from './math.ts';

export const CALIBRATION_METHODS = ['minmax', 'percentile'] as const;
export type CalibrationMethod = (typeof CALIBRATION_METHODS)[number];

export interface CalibrationOptions {
  method: CalibrationMethod;
  /** For `percentile`: the central share of values kept, e.g. 99.99. */
  percentile: number;
}

export async function calibrate(
  model: Model,
  tensors: readonly string[],
  inputs: readonly Float32Array[],
  dims: readonly number[],
  options: CalibrationOptions,
): Promise<Map<string, Range>> {
  if (!inputs.length) throw new ModelError('EMPTY_CALIBRATION', 'the calibration set is empty: static int8 needs at least one sample input');
  const graph = model.graph ?? {};
  const existing = new Set((graph.output ?? []).map((o) => o.name));
  const augmented: Model = {
    ...model,
    graph: {
      ...graph,
      output: [
        ...(graph.output ?? []),
        ...tensors.filter((t) => !existing.has(t)).map((name) => ({ name, type: { tensorType: { elemType: DataType.FLOAT } } })),
      ],
    },
  };
  const session = await openSession(encodeModel(augmented));
  const trackers = new Map(tensors.map((t) => [t, new RangeTracker()]));
  try {
    for (const input of inputs) {
      const outputs = await run(session, input, dims, [...tensors]);
      for (const [name, value] of outputs) trackers.get(name)?.add(value.data);
    }
  } finally {
    await session.release();
  }
  const ranges = new Map<string, Range>();
  for (const [name, tracker] of trackers) {
    if (!tracker.count()) continue;
    ranges.set(name, options.method === 'minmax' ? tracker.minMax() : tracker.percentile(options.percentile));
  }
  return ranges;
}

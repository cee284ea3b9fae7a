// `edgeplane model quantize`: from one fp32 ONNX model, the fp32, fp16, int8 (weight-only)
// and int8-static variants plus manifest.json, written atomically into the output folder.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ModelError } from '../errors.ts';
import { analyse, type Analysis } from '../onnx/analyse.ts';
import { compactGraph } from '../onnx/compact.ts';
import { dropUnusedInitializers } from '../onnx/graph.ts';
import { upgradeToOpset13 } from '../onnx/opset.ts';
import { decodeModel, encodeModel, type Model } from '../onnx/proto.ts';
import { detectTask, makeSamples, type Task } from '../ocr/tasks.ts';
import { MANIFEST_FILE, QUANTIZER_VERSION, type Manifest, type VariantEntry } from '../manifest.ts';
import { writeDirAtomically } from '../output.ts';
import { openSession, run } from '../runtime.ts';
import { calibrate, type CalibrationOptions } from './calibrate.ts';
import { foldBatchNorm } from './fold.ts';
import { toFp16Storage } from './fp16.ts';
import { ortFusion, type FusionReport } from './fusion.ts';
import { simplifyForInt8 } from './simplify.ts';
import { activationTensors, insertQdq } from './static.ts';
import { quantizeWeights } from './weights.ts';

export interface QuantizeOptions {
  out: string;
  /** Input dimensions by input name ('' for the only input). */
  shape?: Map<string, number[]>;
  name?: string;
  task?: Task;
  calibration: CalibrationOptions & {
    /** Generated samples (ignored when `dir` is given). */
    samples: number;
    /** A folder of raw little-endian float32 input tensors (`*.f32`), one file per sample. */
    dir?: string;
    /**
     * Input tensors given by the caller (taking precedence over `dir` and `samples`): lets the
     * activations be calibrated on the deployment's own kind of input, e.g. degraded renders.
     */
    inputs?: { tensors: readonly Float32Array[]; source: string };
  };
  force?: boolean;
  log?: (line: string) => void;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Decodes, hoists constants, upgrades to opset 13 and folds BatchNorm: the int8 starting point. */
function prepareForInt8(bytes: Uint8Array, shape: Map<string, number[]> | undefined): Analysis {
  const a = analyse(decodeModel(bytes), shape);
  upgradeToOpset13(a.model, (t) => a.table.shapes.get(t)?.length);
  foldBatchNorm(a.model.graph ?? {});
  return analyse(a.model, shape);
}

function calibrationInputs(options: QuantizeOptions['calibration'], task: Task, dims: number[]): { inputs: Float32Array[]; source: string } {
  const size = dims.reduce((a, b) => a * b, 1);
  if (options.inputs) {
    const { tensors, source } = options.inputs;
    tensors.forEach((t, i) => {
      if (t.length !== size) throw new ModelError('BAD_SHAPE', `calibration.inputs[${i}] holds ${t.length} floats, the input [${dims.join(',')}] needs ${size}`);
    });
    return { inputs: [...tensors], source };
  }
  if (options.dir) {
    let files: string[];
    try {
      files = readdirSync(options.dir).filter((f) => f.endsWith('.f32')).sort();
    } catch (err) {
      throw new ModelError('BAD_ARGUMENT', `cannot read calibration folder ${options.dir}: ${(err as Error).message}`, { cause: err });
    }
    const inputs = files.map((f) => {
      const b = readFileSync(join(options.dir ?? '', f));
      if (b.byteLength !== size * 4) throw new ModelError('BAD_SHAPE', `${f} holds ${b.byteLength / 4} floats, the input [${dims.join(',')}] needs ${size}`);
      return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    });
    return { inputs, source: `folder ${options.dir}` };
  }
  return { inputs: makeSamples(task, dims, options.samples, 101).map((s) => s.input), source: `generated ${task} samples` };
}

async function checkRuns(bytes: Uint8Array, dims: number[], what: string): Promise<void> {
  try {
    const session = await openSession(bytes);
    await run(session, new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
    await session.release();
  } catch (err) {
    throw new ModelError('UNSUPPORTED_OPERATOR', `the ${what} variant does not run in ONNX Runtime: ${(err as Error).message}`, { cause: err });
  }
}

export async function quantizeModel(source: string, options: QuantizeOptions): Promise<Manifest & { fusion?: FusionReport }> {
  const log = options.log ?? (() => {});
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(source);
  } catch (err) {
    throw new ModelError('BAD_ARGUMENT', `cannot read ${source}: ${(err as Error).message}`, { cause: err });
  }
  // Everything that can refuse the input runs before any file is written.
  const fp32 = analyse(decodeModel(bytes, source), options.shape);
  const dims = [...fp32.inputShapes.values()][0] ?? [];
  if (fp32.inputShapes.size !== 1) throw new ModelError('BAD_ARGUMENT', `models with ${fp32.inputShapes.size} inputs are not supported (one image input expected)`);
  const task = options.task ?? detectTask(fp32.summary);
  const name = options.name ?? basename(source).replace(/\.onnx$/i, '');
  const calib = calibrationInputs(options.calibration, task, dims);
  if (!calib.inputs.length) {
    throw new ModelError('EMPTY_CALIBRATION', `the calibration set is empty (${calib.source}): static int8 needs at least one sample input`);
  }
  log(`${name}: task ${task}, input [${dims.join(',')}], opset ${fp32.summary.opset}, ${fp32.summary.gflops.toFixed(3)} GFLOPs`);

  const fp16Model = decodeModel(bytes);
  analyse(fp16Model, options.shape);
  const fp16Report = toFp16Storage(fp16Model);
  compactGraph(fp16Model.graph ?? {});
  const fp16 = encodeModel(fp16Model);
  log(`fp16: ${fp16Report.converted} initializers stored as float16 (${fp16Report.keptFloat32} kept float32, out of range)`);

  const weightOnly = prepareForInt8(bytes, options.shape).model;
  const weights = quantizeWeights(weightOnly.graph ?? {});
  dropUnusedInitializers(weightOnly.graph ?? {});
  compactGraph(weightOnly.graph ?? {});
  const int8 = encodeModel(weightOnly);
  log(`int8: ${new Set(weights.values()).size} weights per-channel int8`);

  const prepared = prepareForInt8(bytes, options.shape).model;
  const simplified = simplifyForInt8(prepared.graph ?? {});
  log(`int8-static: ${simplified.divToMul} Div by a constant made Mul, ${simplified.convAffine} Mul/Add and ${simplified.hardSigmoid} HardSigmoid folded into Conv`);
  const tensors = activationTensors(prepared.graph ?? {});
  const ranges = await calibrate(prepared, tensors, calib.inputs, dims, options.calibration);
  const staticReport = insertQdq(prepared.graph ?? {}, ranges);
  compactGraph(prepared.graph ?? {});
  const int8Static = encodeModel(prepared);
  const fusion = await ortFusion(int8Static);
  log(`int8-static: ${staticReport.activations} activations calibrated (${options.calibration.method}, ${calib.inputs.length} samples); ${staticReport.absorbed} scalar Mul/Add read back by DequantizeLinear; planned int8 ${JSON.stringify(staticReport.int8Nodes)}; ORT fused ${fusion.qlinear} quantized kernels, ${fusion.remainingQdq} Q/DQ left`);

  const files: [VariantEntry, Uint8Array][] = [
    [{ name: 'fp32', precision: 'fp32', profile: 'full', file: `${name}-fp32.onnx`, method: 'source model, unchanged' }, bytes],
    [{ name: 'fp16', precision: 'fp16', profile: 'full', file: `${name}-fp16.onnx`, method: 'float16 storage, float32 compute (Cast after load)' }, fp16],
    [{ name: 'int8', precision: 'int8', profile: 'lite', file: `${name}-int8.onnx`, method: 'int8 weight-only, per-channel symmetric, DequantizeLinear' }, int8],
    [
      { name: 'int8-static', precision: 'int8', profile: 'full', file: `${name}-int8-static.onnx`, method: `int8 static QDQ, uint8 activations (${options.calibration.method}), int8 per-channel weights; Add, Mul, Sigmoid, pools and Concat in int8 too, first and output layers float` },
      int8Static,
    ],
  ];
  for (const [v, b] of files) await checkRuns(b, dims, v.name);

  const manifest: Manifest = {
    model: name,
    quantizer: QUANTIZER_VERSION,
    task,
    source: basename(source),
    sourceSha256: sha256(bytes),
    opset: fp32.summary.opset,
    inputShape: dims,
    gflops: fp32.summary.gflops,
    variants: files.map(([v]) => v),
    calibration: { method: options.calibration.method === 'percentile' ? `percentile ${options.calibration.percentile}` : 'minmax', samples: calib.inputs.length, source: calib.source },
    staticFusion: { fused: fusion.fused, qlinear: fusion.qlinear, remainingQdq: fusion.remainingQdq, optimized: fusion.optimized },
  };
  await writeDirAtomically(options.out, { force: options.force }, async (tmp) => {
    for (const [v, b] of files) writeFileSync(join(tmp, v.file), b);
    writeFileSync(join(tmp, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  });
  return { ...manifest, fusion };
}

export type { Model };

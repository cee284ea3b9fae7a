// PaddleOCR's input preparation, for grey images replicated to three channels.
import { resize, type Gray } from '../samples/image.ts';

/**
 * A text line for the classifier or recogniser: resized to the input height keeping its
 * aspect ratio (at most the input width), scaled to [-1, 1], right-padded with zeros.
 */
export function lineTensor(img: Gray, height: number, width: number): Float32Array {
  const w = Math.max(1, Math.min(width, Math.ceil((height * img.width) / img.height)));
  const r = resize(img, w, height);
  const out = new Float32Array(3 * height * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < w; x++) {
      const v = ((r.data[y * w + x] ?? 0) / 255 - 0.5) / 0.5;
      for (let c = 0; c < 3; c++) out[c * height * width + y * width + x] = v;
    }
  }
  return out;
}

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

/** A page for the detector, resized to the input size, ImageNet mean and deviation. */
export function pageTensor(img: Gray, height: number, width: number): Float32Array {
  const r = img.width === width && img.height === height ? img : resize(img, width, height);
  const out = new Float32Array(3 * height * width);
  for (let i = 0; i < height * width; i++) {
    const v = (r.data[i] ?? 0) / 255;
    for (let c = 0; c < 3; c++) out[c * height * width + i] = (v - (MEAN[c] ?? 0)) / (STD[c] ?? 1);
  }
  return out;
}

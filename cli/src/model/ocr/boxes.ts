// Detector post-processing (DB-style): threshold the probability map, take connected
// regions, grow each by the unclip ratio, and match them against ground-truth boxes.
export type Box = [number, number, number, number];

export function regions(prob: Float32Array, width: number, height: number, threshold = 0.3, minPixels = 6): Box[] {
  const seen = new Uint8Array(width * height);
  const boxes: Box[] = [];
  const stack: number[] = [];
  for (let start = 0; start < prob.length; start++) {
    if (seen[start] || (prob[start] ?? 0) <= threshold) continue;
    let [x0, y0, x1, y1, n] = [width, height, 0, 0, 0];
    stack.push(start);
    seen[start] = 1;
    while (stack.length) {
      const i = stack.pop() ?? 0;
      const x = i % width;
      const y = (i - x) / width;
      n++;
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x + 1);
      y1 = Math.max(y1, y + 1);
      for (const j of [x > 0 ? i - 1 : -1, x < width - 1 ? i + 1 : -1, y > 0 ? i - width : -1, y < height - 1 ? i + width : -1]) {
        if (j >= 0 && !seen[j] && (prob[j] ?? 0) > threshold) {
          seen[j] = 1;
          stack.push(j);
        }
      }
    }
    if (n >= minPixels) boxes.push(unclip([x0, y0, x1, y1]));
  }
  return boxes;
}

/** DB shrinks text regions when training; grow them back by area * ratio / perimeter. */
export function unclip(box: Box, ratio = 1.5): Box {
  const w = box[2] - box[0];
  const h = box[3] - box[1];
  const d = (w * h * ratio) / (2 * (w + h));
  return [box[0] - d, box[1] - d, box[2] + d, box[3] + d];
}

export function iou(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/** Fraction of ground-truth boxes matched by some detected box at IoU >= `threshold`. */
export function recall(truth: readonly Box[], found: readonly Box[], threshold = 0.5): number {
  if (!truth.length) return 1;
  return truth.filter((t) => found.some((f) => iou(t, f) >= threshold)).length / truth.length;
}

// Grey images (values 0..255, row-major) and the few operations the samples need.
export interface Gray {
  width: number;
  height: number;
  data: Float32Array;
}

export function rotate180(img: Gray): Gray {
  return { width: img.width, height: img.height, data: img.data.slice().reverse() };
}

/** Bilinear resize (pixel centres aligned, as OpenCV's INTER_LINEAR). */
export function resize(img: Gray, width: number, height: number): Gray {
  const out = new Float32Array(width * height);
  const sx = img.width / width;
  const sy = img.height / height;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), img.height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, img.height - 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), img.width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, img.width - 1);
      const wx = fx - x0;
      const at = (xx: number, yy: number) => img.data[yy * img.width + xx] ?? 0;
      out[y * width + x] = (at(x0, y0) * (1 - wx) + at(x1, y0) * wx) * (1 - wy) + (at(x0, y1) * (1 - wx) + at(x1, y1) * wx) * wy;
    }
  }
  return { width, height, data: out };
}

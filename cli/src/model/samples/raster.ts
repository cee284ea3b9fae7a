// A small anti-aliased rasteriser for glyph outlines: curves flattened to line segments,
// non-zero winding fill on sub-scanlines with exact horizontal coverage.
import type { PathCommand } from 'opentype.js';

interface Edge {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  dir: 1 | -1;
}

const CURVE_STEPS = 8;

export function flatten(commands: readonly PathCommand[]): Edge[] {
  const edges: Edge[] = [];
  let sx = 0;
  let sy = 0;
  let cx = 0;
  let cy = 0;
  const line = (x: number, y: number) => {
    if (y !== cy) edges.push(y > cy ? { x0: cx, y0: cy, x1: x, y1: y, dir: 1 } : { x0: x, y0: y, x1: cx, y1: cy, dir: -1 });
    cx = x;
    cy = y;
  };
  for (const c of commands) {
    switch (c.type) {
      case 'M':
        if (cx !== sx || cy !== sy) line(sx, sy);
        sx = cx = c.x;
        sy = cy = c.y;
        break;
      case 'L':
        line(c.x, c.y);
        break;
      case 'Q': {
        const [x0, y0] = [cx, cy];
        for (let i = 1; i <= CURVE_STEPS; i++) {
          const t = i / CURVE_STEPS;
          const u = 1 - t;
          line(u * u * x0 + 2 * u * t * c.x1 + t * t * c.x, u * u * y0 + 2 * u * t * c.y1 + t * t * c.y);
        }
        break;
      }
      case 'C': {
        const [x0, y0] = [cx, cy];
        for (let i = 1; i <= CURVE_STEPS; i++) {
          const t = i / CURVE_STEPS;
          const u = 1 - t;
          line(
            u * u * u * x0 + 3 * u * u * t * c.x1 + 3 * u * t * t * c.x2 + t * t * t * c.x,
            u * u * u * y0 + 3 * u * u * t * c.y1 + 3 * u * t * t * c.y2 + t * t * t * c.y,
          );
        }
        break;
      }
      case 'Z':
        line(sx, sy);
        break;
    }
  }
  if (cx !== sx || cy !== sy) line(sx, sy);
  return edges;
}

/** Coverage in [0, 1] per pixel of a width x height grid. */
export function fill(commands: readonly PathCommand[], width: number, height: number, subRows = 4): Float32Array {
  const cover = new Float32Array(width * height);
  const edges = flatten(commands);
  const weight = 1 / subRows;
  const crossings: { x: number; dir: number }[] = [];
  for (let row = 0; row < height; row++) {
    for (let s = 0; s < subRows; s++) {
      const y = row + (s + 0.5) / subRows;
      crossings.length = 0;
      for (const e of edges) {
        if (y < e.y0 || y >= e.y1) continue;
        crossings.push({ x: e.x0 + ((y - e.y0) / (e.y1 - e.y0)) * (e.x1 - e.x0), dir: e.dir });
      }
      crossings.sort((a, b) => a.x - b.x);
      let winding = 0;
      for (let i = 0; i < crossings.length - 1; i++) {
        winding += crossings[i]!.dir;
        if (winding === 0) continue;
        span(cover, row * width, width, crossings[i]!.x, crossings[i + 1]!.x, weight);
      }
    }
  }
  return cover;
}

function span(cover: Float32Array, offset: number, width: number, from: number, to: number, weight: number): void {
  const a = Math.max(0, from);
  const b = Math.min(width, to);
  if (b <= a) return;
  const first = Math.floor(a);
  const last = Math.floor(b);
  if (first === last) {
    cover[offset + first] = (cover[offset + first] ?? 0) + (b - a) * weight;
    return;
  }
  cover[offset + first] = (cover[offset + first] ?? 0) + (first + 1 - a) * weight;
  for (let x = first + 1; x < last; x++) cover[offset + x] = (cover[offset + x] ?? 0) + weight;
  if (last < width) cover[offset + last] = (cover[offset + last] ?? 0) + (b - last) * weight;
}

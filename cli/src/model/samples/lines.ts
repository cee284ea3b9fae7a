// Labelled samples rendered from known strings: single text lines (half of them turned by
// 180 degrees) for the direction classifier and the recogniser, and pages for the detector.
import { SAMPLE_FONTS, sampleFont, textAdvance, textPath, type SampleFont } from './font.ts';
import { fill } from './raster.ts';
import { seededRandom } from '../../random.ts';
import { rotate180, type Gray } from './image.ts';

export interface LineSample {
  text: string;
  rotated: boolean;
  font: SampleFont;
  image: Gray;
}

export interface PageSample {
  image: Gray;
  /** Ground-truth text boxes [x0, y0, x1, y1] in pixels. */
  boxes: [number, number, number, number][];
}

const WORDS_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';

function randomText(rand: () => number, words: number): string {
  const parts: string[] = [];
  for (let w = 0; w < words; w++) {
    const kind = rand();
    const len = 2 + Math.floor(rand() * 6);
    const pool = kind < 0.25 ? DIGITS : WORDS_ALPHABET;
    let word = '';
    for (let i = 0; i < len; i++) word += pool[Math.floor(rand() * pool.length)] ?? 'a';
    parts.push(word);
  }
  return parts.join(' ');
}

function ink(image: Gray, text: string, x: number, baseline: number, size: number, paper: number, tone: number, font?: SampleFont): void {
  const cover = fill(textPath(text, x, baseline, size, font), image.width, image.height);
  for (let i = 0; i < cover.length; i++) {
    const c = Math.min(1, cover[i] ?? 0);
    if (c > 0) image.data[i] = (image.data[i] ?? paper) * (1 - c) + tone * c;
  }
}

function noise(image: Gray, rand: () => number, amount: number): void {
  for (let i = 0; i < image.data.length; i++) {
    image.data[i] = Math.max(0, Math.min(255, (image.data[i] ?? 0) + (rand() - 0.5) * amount));
  }
}

/** One line of text, 48 pixels high, dark ink on light paper with a little noise. */
export function renderLine(text: string, rand: () => number, height = 48, name: SampleFont = 'DejaVuSans'): Gray {
  const font = sampleFont(name);
  const size = height * (0.55 + rand() * 0.15);
  const pad = Math.round(height * 0.25);
  const width = Math.ceil(textAdvance(text, size, name)) + 2 * pad;
  const paper = 215 + rand() * 40;
  const image: Gray = { width, height, data: new Float32Array(width * height).fill(paper) };
  const ascent = (font.ascender / font.unitsPerEm) * size;
  const descent = (-font.descender / font.unitsPerEm) * size;
  const baseline = (height - (ascent + descent)) / 2 + ascent;
  ink(image, text, pad, baseline, size, paper, rand() * 60, name);
  noise(image, rand, 12);
  return image;
}

/**
 * `count` labelled lines; with `turn`, every second one is turned by 180 degrees; each pair
 * pair is set in the next of `fonts`, so every font has as many lines of each kind.
 */
export function lineSamples(count: number, seed = 1, fonts: readonly SampleFont[] = SAMPLE_FONTS, turn = true): LineSample[] {
  const rand = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const font = fonts[Math.floor(i / 2) % fonts.length] ?? 'DejaVuSans';
    const text = randomText(rand, 1 + Math.floor(rand() * 3));
    const upright = renderLine(text, rand, 48, font);
    const rotated = turn && i % 2 === 1;
    return { text, rotated, font, image: rotated ? rotate180(upright) : upright };
  });
}

/** A page of `width` x `height` with a few lines of text at known places. */
export function pageSample(width: number, height: number, rand: () => number): PageSample {
  const font = sampleFont();
  const paper = 220 + rand() * 35;
  const image: Gray = { width, height, data: new Float32Array(width * height).fill(paper) };
  const boxes: PageSample['boxes'] = [];
  let y = 8 + rand() * 12;
  while (boxes.length < 6) {
    const size = 18 + rand() * 10;
    const ascent = (font.ascender / font.unitsPerEm) * size;
    const descent = (-font.descender / font.unitsPerEm) * size;
    if (y + ascent + descent > height - 8) break;
    const text = randomText(rand, 1 + Math.floor(rand() * 3));
    const advance = textAdvance(text, size);
    if (advance > width - 16) continue;
    const x = 8 + rand() * (width - 16 - advance);
    ink(image, text, x, y + ascent, size, paper, rand() * 60);
    // The box a reader would draw: from cap height to baseline descenders, glyph to glyph.
    boxes.push([x, y + ascent * 0.2, x + advance, y + ascent + descent * 0.6]);
    y += ascent + descent + 6 + rand() * 14;
  }
  noise(image, rand, 12);
  return { image, boxes };
}

export function pageSamples(count: number, width: number, height: number, seed = 7): PageSample[] {
  const rand = seededRandom(seed);
  return Array.from({ length: count }, () => pageSample(width, height, rand));
}

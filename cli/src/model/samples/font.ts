// The sample fonts: DejaVu Sans, Serif and Sans Mono from the dejavu-fonts-ttf npm package,
// parsed with opentype.js. Samples cycle through them so that accuracy is not one typeface's.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
// The package's entry point is a CommonJS bundle: take the default export.
import opentype, { type Font, type PathCommand } from 'opentype.js';

export const SAMPLE_FONTS = ['DejaVuSans', 'DejaVuSerif', 'DejaVuSansMono'] as const;
export type SampleFont = (typeof SAMPLE_FONTS)[number];

const cached = new Map<SampleFont, Font>();

export function sampleFont(name: SampleFont = 'DejaVuSans'): Font {
  let font = cached.get(name);
  if (!font) {
    const file = createRequire(import.meta.url).resolve(`dejavu-fonts-ttf/ttf/${name}.ttf`);
    const bytes = readFileSync(file);
    font = opentype.parse(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    cached.set(name, font);
  }
  return font;
}

/**
 * Glyph outlines for `text` laid out left to right with kerning. Done glyph by glyph: the
 * library's own text shaping stops at a DejaVu substitution table it does not support.
 */
export function textPath(text: string, x: number, baseline: number, size: number, name?: SampleFont): PathCommand[] {
  const font = sampleFont(name);
  const scale = size / font.unitsPerEm;
  const commands: PathCommand[] = [];
  let pen = x;
  let previous: ReturnType<Font['charToGlyph']> | undefined;
  for (const ch of text) {
    const glyph = font.charToGlyph(ch);
    if (previous) pen += font.getKerningValue(previous, glyph) * scale;
    commands.push(...glyph.getPath(pen, baseline, size).commands);
    pen += (glyph.advanceWidth ?? 0) * scale;
    previous = glyph;
  }
  return commands;
}

export function textAdvance(text: string, size: number, name?: SampleFont): number {
  const font = sampleFont(name);
  const scale = size / font.unitsPerEm;
  let width = 0;
  let previous: ReturnType<Font['charToGlyph']> | undefined;
  for (const ch of text) {
    const glyph = font.charToGlyph(ch);
    if (previous) width += font.getKerningValue(previous, glyph) * scale;
    width += (glyph.advanceWidth ?? 0) * scale;
    previous = glyph;
  }
  return width;
}

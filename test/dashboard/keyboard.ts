// Keyboard-only navigation for the dashboard tests: Tab until the focused element is the one
// wanted, and what a focused element looks like (so focus styles are asserted, not assumed).
import type { Page } from 'playwright-core';

export interface Focused {
  tag: string;
  text: string;
  href: string | null;
  /** Computed outline while focused: a visible focus style has a width above 0. */
  outlineWidth: string;
  outlineStyle: string;
}

const FOCUSED = `(() => { const e = document.activeElement; if (!e) return null; const s = getComputedStyle(e);
  return { tag: e.tagName.toLowerCase(), text: (e.textContent || '').trim(), href: e.getAttribute('href'), outlineWidth: s.outlineWidth, outlineStyle: s.outlineStyle }; })()`;

export async function focused(page: Page): Promise<Focused | null> {
  return (await page.evaluate(FOCUSED)) as Focused | null;
}

/** Presses Tab until `wanted` holds for the focused element; fails after `max` presses. */
export async function tabTo(page: Page, what: string, wanted: (f: Focused) => boolean, max = 80): Promise<Focused> {
  const seen: string[] = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const f = await focused(page);
    if (f && wanted(f)) return f;
    seen.push(f ? `${f.tag}:${f.text.slice(0, 30)}` : '(none)');
  }
  throw new Error(`${what} not reached with ${max} Tab presses; focus went through: ${seen.slice(-20).join(' > ')}`);
}

/** Waits until the heading with this id has focus, as every view gives it once rendered. */
export async function headingFocused(page: Page, id: string, timeoutMs = 5_000): Promise<void> {
  await page.waitForFunction(`document.activeElement?.id === ${JSON.stringify(id)}`, undefined, { timeout: timeoutMs });
}

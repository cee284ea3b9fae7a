// Headless Chromium for the dashboard's tests and benchmark: Debian's /usr/bin/chromium (or
// $EP_CHROMIUM) driven by playwright-core, which downloads no browser of its own. `make deps`
// installs Debian's package when it is missing; without it, callers skip and say why.
import { existsSync } from 'node:fs';
// Loaded on first launch: everything importing @edgeplane/env should not pay for it.
import type { Browser, BrowserContext, Page } from 'playwright-core';

export const DEBIAN_CHROMIUM = '/usr/bin/chromium';

/** The Chromium to launch: $EP_CHROMIUM, else Debian's; null when neither exists. */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string | null {
  const path = env.EP_CHROMIUM || DEBIAN_CHROMIUM;
  return existsSync(path) ? path : null;
}

/** Why no browser test can run here, or null when one can. */
export function browserUnavailableReason(env: NodeJS.ProcessEnv = process.env): string | null {
  if (chromiumPath(env)) return null;
  return `no Chromium at ${env.EP_CHROMIUM || DEBIAN_CHROMIUM} (install Debian's chromium: make deps, or set EP_CHROMIUM)`;
}

export class BrowserError extends Error {
  override readonly name = 'BrowserError';
  readonly code: 'NO_CHROMIUM' | 'NOT_SHOWN';
  constructor(code: 'NO_CHROMIUM' | 'NOT_SHOWN', message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export const isBrowserError = (err: unknown): err is BrowserError => err instanceof BrowserError;

export async function launchBrowser(options: { env?: NodeJS.ProcessEnv } = {}): Promise<Browser> {
  const executablePath = chromiumPath(options.env);
  if (!executablePath) throw new BrowserError('NO_CHROMIUM', browserUnavailableReason(options.env) ?? 'no Chromium');
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath,
    headless: true,
    // Root (CI containers) cannot use Chromium's sandbox; /dev/shm is small in containers.
    args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run', '--disable-extensions'],
  });
}

/** A page that records what the console said at level error, and uncaught page errors. */
export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught exceptions, in order. */
  errors: string[];
}

export async function watchedPage(browser: Browser, options: { width?: number; height?: number } = {}): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width: options.width ?? 1360, height: options.height ?? 900 }, colorScheme: 'light' });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
  return { context, page, errors };
}

/** In the page: the fleet view has loaded and shows at least `min` node rows in its list. */
const fleetShown = (minNodes: number) =>
  `(() => { const s = document.querySelector('section.fleet[data-loaded="true"]'); if (!s) return false;
    if (Number(s.getAttribute('data-nodes')) < ${minNodes}) return false;
    return document.querySelector('.vscroll .vrow .cell.name a') ? performance.now() : false; })()`;

export interface FirstLoad {
  /** From the start of navigation (the token's redirect included) to the fleet's rows on screen, ms. */
  firstLoadMs: number;
  /** Nodes the page said it holds when its rows showed. */
  nodes: number;
  /** The same load's Resource Timing entries and the page's own `ep:` marks, on the page's clock. */
  timings: PageTimings;
}

export interface ResourceTiming {
  name: string;
  startTime: number;
  requestStart: number;
  responseStart: number;
  responseEnd: number;
  transferSize: number;
  encodedBodySize: number;
  decodedBodySize: number;
}

export interface PageTimings {
  /** The document's request (after the token's redirect): its response start and end. */
  document: { responseStart: number; responseEnd: number; domContentLoaded: number };
  resources: ResourceTiming[];
  /** performance.mark() names starting with `ep:` and their times. */
  marks: Record<string, number>;
}

/** In the page: what PageTimings holds, as JSON. */
const collectTimings = `(() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const pick = (e) => ({ name: e.name, startTime: e.startTime, requestStart: e.requestStart, responseStart: e.responseStart, responseEnd: e.responseEnd,
    transferSize: e.transferSize, encodedBodySize: e.encodedBodySize, decodedBodySize: e.decodedBodySize });
  const marks = {};
  for (const m of performance.getEntriesByType('mark')) if (m.name.startsWith('ep:') && !(m.name in marks)) marks[m.name] = m.startTime;
  return { document: { responseStart: nav ? nav.responseStart : 0, responseEnd: nav ? nav.responseEnd : 0, domContentLoaded: nav ? nav.domContentLoadedEventEnd : 0 },
    resources: performance.getEntriesByType('resource').map(pick), marks };
})()`;

/**
 * Opens `url` (the dashboard's address, with its token) in a fresh headless Chromium and
 * measures the time until the fleet view shows its rows, by the page's own clock.
 */
export async function measureFirstLoad(url: string, options: { expectNodes?: number; timeoutMs?: number; browser?: Browser } = {}): Promise<FirstLoad> {
  const browser = options.browser ?? (await launchBrowser());
  try {
    const { context, page, errors } = await watchedPage(browser);
    try {
      await page.goto(url, { waitUntil: 'commit', timeout: options.timeoutMs ?? 30_000 });
      let shownAt: number;
      try {
        const handle = await page.waitForFunction(fleetShown(options.expectNodes ?? 1), undefined, { polling: 'raf', timeout: options.timeoutMs ?? 30_000 });
        shownAt = (await handle.jsonValue()) as number;
      } catch (err) {
        throw new BrowserError('NOT_SHOWN', `the fleet view at ${new URL(url).pathname} showed no rows${errors.length ? `; the page said: ${errors.join(' | ')}` : ''}`, { cause: err });
      }
      const nodes = Number(await page.getAttribute('section.fleet', 'data-nodes'));
      const timings = (await page.evaluate(collectTimings)) as PageTimings;
      return { firstLoadMs: Math.round(shownAt), nodes, timings };
    } finally {
      await context.close();
    }
  } finally {
    if (!options.browser) await browser.close();
  }
}

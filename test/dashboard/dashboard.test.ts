// The dashboard in real headless Chromium against the `make up` stack: the control plane, three
// real agents on hardware fixtures, the OCR line and a deployment no gateway can take. The page
// lists the nodes, follows the battery gateway's drain live (plot and tier within 5 s), shows
// the degraded deployment's reason, is usable by keyboard alone and logs no console error.
// Screenshots of each view go to .cache/dashboard/ (docs/img/ with EP_DASHBOARD_SCREENSHOTS=docs).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { applyDeployment, applyDeploymentFile, browserUnavailableReason, kubeConfig, launchBrowser, repoRoot, watchedPage, type WatchedPage } from '@edgeplane/env';
import { demoAgents } from '../../scripts/up/agents.ts';
import { ocrDeployment, publishOcrVariants, waitPlacement, waitReady } from '../../scripts/up/demo.ts';
import { dashboardAddress } from '../../scripts/up/dashboard.ts';
import { startStack, type Stack } from '../../scripts/up/stack.ts';
import { buildDashboard } from '../../dashboard/scripts/build.ts';
import { focused, headingFocused, tabTo } from './keyboard.ts';

const unavailable = browserUnavailableReason();
if (unavailable) console.warn(`[dashboard] test/dashboard skipped: ${unavailable}`);
const pi = 'pi-handheld-1';
const shots = process.env.EP_DASHBOARD_SCREENSHOTS === 'docs' ? join(repoRoot, 'docs', 'img') : join(repoRoot, '.cache', 'dashboard');

let stack: Stack;
let browser: Browser;
let tab: WatchedPage;

describe.skipIf(unavailable !== null)(`dashboard in headless Chromium${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  beforeAll(async () => {
    // What the control plane serves (make test builds it first; this is then a no-op).
    await buildDashboard();
    stack = await startStack({ agents: demoAgents, log: () => {}, heartbeatIntervalMs: 500 });
    const kc = kubeConfig(stack.kube);
    const pushed = await publishOcrVariants(stack.nats, () => {});
    await applyDeployment(kc, ocrDeployment(pushed));
    // No gateway here is on assembly line 2: this one stays degraded with placement's reason.
    await applyDeploymentFile(kc, join(repoRoot, 'deploy', 'examples', 'camera-defect.yaml'));
    await waitReady(stack.api, 'warehouse', 'ocr-line', 180_000);
    browser = await launchBrowser();
    tab = await watchedPage(browser);
    mkdirSync(shots, { recursive: true });
    mkdirSync(join(repoRoot, '.cache', 'dashboard'), { recursive: true });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  }, 60_000);

  it('opens from the address make up prints and lists the three nodes by site', async () => {
    const { page } = tab;
    await page.goto(dashboardAddress(stack.api));
    // The token went into a cookie and out of the address bar.
    expect(new URL(page.url()).search).toBe('');
    for (const agent of demoAgents) {
      await page.locator('.vscroll .cell.name a', { hasText: agent.node }).waitFor({ timeout: 15_000 });
    }
    const sites = await page.locator('.vscroll .cell.site .site-name').allTextContents();
    expect(sites.sort()).toEqual(['dc', 'dock-1', 'yard']);
    await expect.poll(() => page.getAttribute('[data-testid=connection]', 'class'), { timeout: 10_000 }).toContain('conn-live');
    await page.screenshot({ path: join(shots, 'dashboard-fleet.png') });
  });

  it('shows the degraded deployment and its reason on the fleet and deployment views', async () => {
    const { page } = tab;
    const row = page.locator('tr[data-deployment="factory-a/camera-defect"]');
    await expect.poll(() => row.textContent(), { timeout: 30_000 }).toMatch(/Degraded: \w+/);
    await row.locator('a').click();
    const banner = page.locator('[data-testid=degraded]');
    await banner.waitFor({ timeout: 10_000 });
    expect(await banner.textContent()).toMatch(/Degraded: \w+/);
    const unplaced = await page.locator('[data-testid=unplaced]').textContent();
    expect(unplaced).toMatch(/0\/3 nodes are available/);
  });

  it('every view is reachable by keyboard, with a visible focus', async () => {
    const { page } = tab;
    await page.goto(dashboardAddress(stack.api).replace(/\?token=.*$/, ''));
    await page.locator('.vscroll .cell.name a').first().waitFor();
    // The first Tab lands on the skip link, which moves focus to the content.
    await page.keyboard.press('Tab');
    expect((await focused(page))?.text).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect((await focused(page))?.tag).toBe('main');

    const toNode = await tabTo(page, `the link to ${pi}`, (f) => f.tag === 'a' && f.text === pi);
    expect(toNode.outlineStyle).not.toBe('none');
    expect(parseFloat(toNode.outlineWidth)).toBeGreaterThan(0);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#node-title').textContent()).toBe(pi);
    // A new view moves focus to its heading once rendered; Tab from there, not from the link
    // the heading is about to take focus from.
    await headingFocused(page, 'node-title');

    await tabTo(page, 'the link to warehouse/ocr-line', (f) => f.tag === 'a' && f.text === 'warehouse/ocr-line');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#deployment-title').textContent()).toBe('warehouse/ocr-line');
    await headingFocused(page, 'deployment-title');
    await page.locator('table.placements').waitFor();

    await tabTo(page, 'the Fleet link', (f) => f.tag === 'a' && f.text === 'Fleet');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#fleet-title').textContent()).toBe('Fleet');
    await headingFocused(page, 'fleet-title');
    await tabTo(page, 'the filter', (f) => f.tag === 'input');
    await page.keyboard.type('yard');
    expect(await page.inputValue('#node-filter')).toBe('yard');
    await expect.poll(() => page.locator('.vscroll .cell.name a').allTextContents(), { timeout: 5_000 }).toEqual([pi]);
  });

  it('draining the battery gateway below 20% shows on its battery plot and moves its tier within 5 s', async () => {
    const { page } = tab;
    const agent = stack.agents.find((a) => a.spec.node === pi)!;
    // Wi-Fi and a full battery first: the full fp32 model, so the drain has a tier to take away.
    agent.setNetwork({ type: 'wifi', bandwidthMbps: 80, metered: false });
    agent.setPower({ source: 'battery', batteryPercent: 76, charging: false });
    await waitPlacement(stack.api, 'warehouse', 'ocr-line', pi, (r) => r.precision === 'fp32' && r.phase === 'Ready', 90_000);
    await page.goto(dashboardAddress(stack.api).replace(/\?token=.*$/, '') + `#/nodes/${pi}`);
    // A fresh load: the view starts from the snapshot, not from the previous view's state.
    await page.reload();
    const tier = page.locator('table.workloads tr[data-deployment="warehouse/ocr-line"]');
    await expect.poll(() => tier.getAttribute('data-tier'), { timeout: 30_000 }).toBe('fp32');
    await expect.poll(() => page.getAttribute('#plot-battery', 'data-last'), { timeout: 10_000 }).toBe('76');
    await page.screenshot({ path: join(repoRoot, '.cache', 'dashboard', 'dashboard-node-before.png'), fullPage: true });

    const drained = Date.now();
    agent.setPower({ source: 'battery', batteryPercent: 17, charging: false });
    await expect.poll(() => page.getAttribute('#plot-battery', 'data-last'), { timeout: 5_000, interval: 100 }).toBe('17');
    const plotted = Date.now() - drained;
    await expect.poll(() => tier.getAttribute('data-tier'), { timeout: Math.max(0, 5_000 - (Date.now() - drained)), interval: 100 }).toBe('int8');
    const retiered = Date.now() - drained;
    console.log(`battery on the plot after ${plotted} ms, tier int8 on the page after ${retiered} ms`);
    expect(retiered).toBeLessThanOrEqual(5_000);
    // The change is marked on the plots once the tier moved.
    await expect.poll(async () => Number(await page.getAttribute('#plot-tier', 'data-markers')), { timeout: 5_000 }).toBeGreaterThan(0);
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(shots, 'dashboard-node.png'), fullPage: true });
    await page.goto(dashboardAddress(stack.api).replace(/\?token=.*$/, '') + '#/deployments/warehouse/ocr-line');
    await page.locator('table.placements tr[data-node="pi-handheld-1"]', { hasText: 'int8' }).waitFor({ timeout: 10_000 });
    await page.screenshot({ path: join(shots, 'dashboard-deployment.png'), fullPage: true });
  }, 150_000);

  it('without the token the page says it is not signed in and shows no data', async () => {
    const stranger = await watchedPage(browser);
    try {
      await stranger.page.goto(dashboardAddress(stack.api).replace(/\?token=.*$/, ''));
      await expect.poll(() => stranger.page.textContent('[data-testid=connection]'), { timeout: 15_000 }).toBe('not signed in');
      expect(await stranger.page.locator('[role=alert]').textContent()).toMatch(/not signed in/);
      expect(await stranger.page.locator('.vscroll .cell.name a').count()).toBe(0);
      // A wrong token is refused too, and not put in a cookie.
      const res = await stranger.page.goto(dashboardAddress({ url: stack.api.url, token: 'not-a-token' }));
      expect(res?.status()).toBe(401);
      expect(await stranger.context.cookies()).toEqual([]);
    } finally {
      await stranger.context.close();
    }
  });

  it('logged no console error on any view', () => {
    expect(tab.errors).toEqual([]);
  });
});

if (unavailable) {
  describe('dashboard in headless Chromium', () => {
    it.skip(`skipped: ${unavailable}`, () => undefined);
  });
}

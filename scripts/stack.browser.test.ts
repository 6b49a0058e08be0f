/**
 * The integrated stack in a real browser: scripts/stack.ts with every lane this checkout has, demo
 * traffic and the dashboard, on free ports; Debian's chromium through playwright-core at 1280×900.
 * The overview shows every lane up with numbers that move and fits the window; the lane pages show the
 * ledger, compression and TLS; a lane whose receiver is killed shows as down within seconds while the
 * others stay up. Screenshots go to test-artifacts/ (git-ignored).
 *
 * No chromium: skipped outside CI, with the command that installs it (tests/support/peers.ts); under
 * CI=true that is a failure.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../shared/dashboard/test-support.ts';
import type { Program } from './lib/launch.ts';
import { LANES, laneAvailable } from './lib/stack-lanes.ts';
import { ARTIFACTS, chromiumPeer, expectOverviewFits, openPage, type PageDocument } from '../tests/support/browser.ts';
import { startDemoStack } from '../tests/support/demo-stack.ts';

/** a killed lane must show as down within this (the dashboard checks pids every refresh) */
const DOWN_WITHIN_MS = 5000;

declare const document: PageDocument;

interface LaneReady {
  pid: number;
  dataDir: string;
}

describe.skipIf(chromiumPeer.skip)('the integrated stack in a browser', () => {
  const lanes = LANES.filter((l) => laneAvailable(l)).map((l) => l.id);
  let root: string;
  let stack: Program;
  let ready: Record<string, unknown>;
  let browser: Browser;
  let page: Page;
  const failures: string[] = [];

  beforeAll(async () => {
    chromiumPeer.assert();
    root = await mkdtemp(join(tmpdir(), 'ls-stack-browser-'));
    stack = await startDemoStack(root, { refreshMs: 500, staleMs: 3000 });
    ready = await stack.ready;
    ({ browser, page } = await openPage(failures));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (stack) {
      const lanePids = Object.values((ready?.lanes ?? {}) as Record<string, LaneReady>).map((l) => l.pid);
      await stack.stop('SIGTERM');
      // Ctrl-C leaves nothing behind: every lane's receiver is gone once the stack has exited
      const left = lanePids.filter((pid) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      });
      expect(left).toEqual([]);
    }
    if (root) await rm(root, { recursive: true, force: true });
  }, 30_000);

  const cell = (lane: string, field: string) => `tr[data-lane="${lane}"] [data-field="${field}"]`;
  const num = async (sel: string) => Number(await page.locator(sel).getAttribute('data-value'));

  it('shows every lane up, numbers moving, and fits 1280 px without scrolling sideways', async () => {
    expect(Object.keys(ready.lanes as object).sort()).toEqual([...lanes].sort());
    await page.goto(String(ready.dashboard));
    for (const lane of lanes) {
      await page.locator(`tr[data-lane="${lane}"]`).waitFor({ timeout: 10_000 });
      await page.waitForFunction((s) => document.querySelector(s)?.dataset.value === 'up', cell(lane, 'status'), {
        timeout: 15_000,
      });
    }
    const before = Object.fromEntries(
      await Promise.all(lanes.map(async (l) => [l, await num(cell(l, 'received'))] as const)),
    );
    // demo traffic flows through every lane: every lane's received count grows, and shows a rate
    for (const lane of lanes) {
      await page.waitForFunction(
        ([s, n]) => Number(document.querySelector(s)?.dataset.value) > Number(n),
        [cell(lane, 'received'), String(before[lane])] as const,
        { timeout: 20_000 },
      );
    }
    await waitFor(
      'a rate on every lane',
      async () => (await Promise.all(lanes.map((l) => num(cell(l, 'recordsPerSec'))))).every((r) => r > 0),
      15_000,
      200,
    );
    await expectOverviewFits(page);
    // the overview's delivery ledger: a row per stream of the acknowledged lanes, with its high-water mark
    await page.locator('#ledger-all-body tr[data-ledger-lane="day09"]').first().waitFor({ timeout: 10_000 });
    expect(
      Number(
        await page
          .locator('#ledger-all-body tr[data-ledger-lane="day09"] [data-field="hwm"]')
          .first()
          .getAttribute('data-value'),
      ),
    ).toBeGreaterThan(0);
    await page.screenshot({ path: join(ARTIFACTS, 'stack-overview.png'), fullPage: true });
  }, 90_000);

  it('lane pages: the delivery ledger per stream, compression, TLS', async () => {
    const acked = lanes.find((l) => l === 'day09')!;
    await page.goto(`${String(ready.dashboard)}#/lane/${acked}`);
    await page.locator('#ledger-body tr[data-stream]').first().waitFor({ timeout: 10_000 });
    expect(
      Number(await page.locator('#ledger-body tr[data-stream] [data-field="hwm"]').first().getAttribute('data-value')),
    ).toBeGreaterThan(0);
    await page.screenshot({ path: join(ARTIFACTS, 'stack-lane-day09.png'), fullPage: true });
    if (lanes.includes('day13')) {
      await page.goto(`${String(ready.dashboard)}#/lane/day13`);
      await page.locator('#lane-tls').waitFor({ state: 'visible', timeout: 10_000 });
      await page.waitForFunction(
        () => document.querySelector('#lane-totals [data-field="tlsHandshakeFailures"]')?.textContent === '0',
        undefined,
        { timeout: 10_000 },
      );
    }
    if (lanes.includes('day12')) {
      await page.goto(`${String(ready.dashboard)}#/lane/day12`);
      await page.waitForFunction(
        () => /×$/.test(document.querySelector('#lane-totals [data-field="compressionRatio"]')?.textContent ?? ''),
        undefined,
        { timeout: 15_000 },
      );
      await page.screenshot({ path: join(ARTIFACTS, 'stack-lane-day12.png'), fullPage: true });
    }
  }, 60_000);

  it('a lane whose receiver is killed shows as down within seconds; the others stay up', async () => {
    await page.goto(`${String(ready.dashboard)}#/`);
    const victim = 'day08';
    const pid = (ready.lanes as Record<string, LaneReady>)[victim]!.pid;
    await page.waitForFunction((s) => document.querySelector(s)?.dataset.value === 'up', cell(victim, 'status'), {
      timeout: 10_000,
    });
    const at = Date.now();
    process.kill(pid, 'SIGKILL');
    await page.waitForFunction((s) => document.querySelector(s)?.dataset.value === 'down', cell(victim, 'status'), {
      timeout: DOWN_WITHIN_MS,
    });
    const tookMs = Date.now() - at;
    expect(await page.locator(cell(victim, 'status')).textContent()).toContain('process gone');
    for (const lane of lanes.filter((l) => l !== victim))
      expect(await page.locator(cell(lane, 'status')).getAttribute('data-value'), lane).toBe('up');
    expect(await page.title()).toMatch(/^\(1 down\)/);
    await page.screenshot({ path: join(ARTIFACTS, 'stack-lane-down.png'), fullPage: true });
    expect(tookMs).toBeLessThan(DOWN_WITHIN_MS);
    expect(failures).toEqual([]);
  }, 30_000);
});

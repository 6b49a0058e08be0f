/**
 * The dashboard in a real browser (Debian's chromium driven by playwright-core): the page loads, shows
 * every lane, follows stats.json and the records files live, filters records by level, shows a lane
 * as down within seconds of its process dying or its stats going stale, and leaves screenshots in
 * test-artifacts/ (git-ignored) for a human to look at.
 *
 * No chromium: skipped outside CI, with the command that installs it (tests/support/peers.ts); under
 * CI=true that is a failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type Dashboard } from './server.ts';
import { appendRecords, appendRejects, writeStats, type FakeStats } from './test-support.ts';
import {
  ARTIFACTS,
  chromiumPeer,
  expectOverviewFits,
  openPage,
  type PageDocument,
  type PageElement,
  type PageWindow,
} from '../../tests/support/browser.ts';

const STALE_MS = 2000;

declare const document: PageDocument;
declare const window: PageWindow;
declare function getComputedStyle(el: PageElement, pseudo: string): { content: string };
/** how long a lane may take to show as down: a stale window plus a couple of refreshes, with room */
const DOWN_WITHIN_MS = 5000;

describe.skipIf(chromiumPeer.skip)('the dashboard in a browser', () => {
  let root: string;
  let dash: Dashboard;
  let browser: Browser;
  let page: Page;
  let keeper: ChildProcess;
  let heartbeat: NodeJS.Timeout | undefined;
  const dirs = { alpha: '', beta: '', gamma: '' };
  // alpha is a receiver that keeps writing stats.json; the test changes what it writes
  let alpha: FakeStats = {};
  // records alpha's "receiver" takes per heartbeat (a rate that lasts, however slowly the page polls)
  let grow = 0;

  beforeAll(async () => {
    chromiumPeer.assert();
    root = await mkdtemp(join(tmpdir(), 'ls-dash-browser-'));
    for (const k of Object.keys(dirs) as Array<keyof typeof dirs>) dirs[k] = join(root, k);
    // beta's "receiver" is a process of ours that we kill later
    keeper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e6)'], { stdio: 'ignore' });
    alpha = {
      lane: 'alpha',
      transport: 'tls',
      received: 100,
      persisted: 100,
      wire: 10_000,
      streams: { '1': { hwm: 100, gaps: 0, duplicates: 0, reordered: 0 } },
      rejects: { invalid_json: 1 },
      rejected: 1,
      extra: {
        tls: {
          version: 'TLSv1.3',
          cipher: 'TLS_AES_256_GCM_SHA384',
          clientSubjects: ['CN=shipper-1'],
          handshakeFailures: { unknown_ca: 3 },
        },
      },
    };
    await appendRecords(
      dirs.alpha,
      'records-000001.ndjson',
      [
        { seq: 1, level: 'info', service: 'api', msg: 'service started' },
        { seq: 2, level: 'error', service: 'db', msg: 'connection refused by db-1' },
        { seq: 3, level: 'warn', service: 'api', msg: 'slow request' },
      ],
      'alpha',
    );
    await appendRejects(dirs.alpha, [{ reason: 'invalid_json', seq: 4, sample: '{oops' }]);
    await writeStats(dirs.alpha, alpha);
    await writeStats(dirs.beta, { lane: 'beta', transport: 'udp', pid: keeper.pid!, received: 5 });
    await writeStats(dirs.gamma, { lane: 'gamma', transport: 'tcp', received: 7 });
    heartbeat = setInterval(() => {
      if (grow) alpha = { ...alpha, received: (alpha.received ?? 0) + grow, persisted: (alpha.persisted ?? 0) + grow };
      void writeStats(dirs.alpha, { ...alpha, updatedAt: new Date().toISOString() });
      if (keeper.exitCode === null && keeper.signalCode === null)
        void writeStats(dirs.beta, { lane: 'beta', transport: 'udp', pid: keeper.pid!, received: 5 });
    }, 250);
    dash = await startDashboard({
      lanes: [
        { name: 'alpha', dataDir: dirs.alpha },
        { name: 'beta', dataDir: dirs.beta },
        { name: 'gamma', dataDir: dirs.gamma },
      ],
      refreshMs: 200,
      staleMs: STALE_MS,
    });
    const failures: string[] = [];
    ({ browser, page } = await openPage(failures));
    page.on('requestfailed', (req) => {
      if (!req.url().endsWith('/api/events')) failures.push(`request failed: ${req.url()}`);
    });
    // no 404 anywhere, the favicon a browser asks for by itself included
    page.on('response', (res) => {
      if (res.status() >= 400) failures.push(`${res.status()} ${res.url()}`);
    });
    (page as Page & { failures?: string[] }).failures = failures;
  }, 60_000);

  afterAll(async () => {
    if (heartbeat) clearInterval(heartbeat);
    await browser?.close();
    await dash?.close();
    if (keeper && keeper.exitCode === null) keeper.kill('SIGKILL');
    if (root) await rm(root, { recursive: true, force: true });
  });

  const cell = (lane: string, field: string) => `tr[data-lane="${lane}"] [data-field="${field}"]`;
  const valueOf = (sel: string) => page.locator(sel).getAttribute('data-value');
  const waitValue = (sel: string, want: string, timeout = 5000) =>
    page.waitForFunction(([s, w]) => document.querySelector(s)?.dataset.value === w, [sel, want] as const, {
      timeout,
    });

  it('loads and shows every lane with its numbers', async () => {
    await page.goto(dash.url);
    for (const lane of ['alpha', 'beta', 'gamma'])
      await page.locator(`tr[data-lane="${lane}"]`).waitFor({ timeout: 10_000 });
    await waitValue(cell('alpha', 'received'), '100');
    expect(await page.locator(cell('alpha', 'received')).textContent()).toBe('100');
    expect(await page.locator(cell('alpha', 'transport')).textContent()).toBe('tls');
    expect(await valueOf(cell('beta', 'received'))).toBe('5');
    await waitValue(cell('alpha', 'status'), 'up');
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 5000 });
    expect(await page.getAttribute('html', 'lang')).toBe('en');
  });

  it('follows stats.json as it changes', async () => {
    alpha = { ...alpha, received: 123_456, persisted: 123_400, wire: 9_000_000 };
    await writeStats(dirs.alpha, alpha);
    await waitValue(cell('alpha', 'received'), '123456');
    expect(await page.locator(cell('alpha', 'received')).textContent()).toBe('123,456');
    // the rate comes from two snapshots: let the receiver keep taking records until the page shows one
    grow = 500;
    await page.waitForFunction(
      (s) => Number(document.querySelector(s)?.dataset.value) > 0,
      cell('alpha', 'recordsPerSec'),
      { timeout: 10_000 },
    );
    grow = 0;
    alpha = { ...alpha, received: 123_456, persisted: 123_400 };
    await writeStats(dirs.alpha, alpha);
    // every column fits a 1280 px window: no sideways scrolling of the table or the page
    await expectOverviewFits(page);
    // the overview's delivery ledger lists every stream of every lane
    expect(await valueOf('#ledger-all-body tr[data-ledger-lane="alpha"][data-stream="1"] [data-field="hwm"]')).toBe(
      '100',
    );
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-overview.png'), fullPage: true });
  });

  // Every column of the overview, by the data-field of its cells (the status is a span inside its cell).
  const COLUMNS = [
    'transport',
    'status',
    'recordsPerSec',
    'bytesPerSec',
    'received',
    'persisted',
    'rejected',
    'dropped',
    'duplicates',
    'gaps',
    'compressionRatio',
    'tlsHandshakeFailures',
    'connectionsOpen',
    'age',
  ];

  it('every overview column is in reach and nothing is cut, at 1280 px and at 390 px (a phone); the records/s chart has every lane', async () => {
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: 900 });
      await page.goto(`${dash.url}#/`);
      await waitValue(cell('alpha', 'received'), '123456');
      await page.locator('#overview-chart .uplot canvas').waitFor({ timeout: 5000 });
      for (const lane of ['alpha', 'beta', 'gamma']) {
        for (const field of COLUMNS) {
          const box = await page.locator(cell(lane, field)).boundingBox();
          expect(box, `${width} px: ${lane} ${field} is shown`).not.toBeNull();
          expect(box!.width, `${width} px: ${lane} ${field} has a width`).toBeGreaterThan(0);
          expect(box!.x, `${width} px: ${lane} ${field} starts on screen`).toBeGreaterThanOrEqual(0);
          expect(
            box!.x + box!.width,
            `${width} px: ${lane} ${field} ends on screen (no sideways scroll to reach it)`,
          ).toBeLessThanOrEqual(width);
        }
      }
      const fit = await page.evaluate(() => {
        const cut = [...document.querySelectorAll('#lanes-table tbody td, #lanes-table tbody th, #lanes-table caption')]
          .filter((el) => el.scrollWidth > el.clientWidth + 1)
          .map((el) => el.textContent ?? '');
        const ledger = document.querySelector('#view-ledger .table-wrap')!;
        return {
          cut,
          doc: document.documentElement.scrollWidth,
          win: window.innerWidth,
          ledger: ledger.scrollWidth - ledger.clientWidth,
        };
      });
      expect(fit.cut, `${width} px: cells or caption cut`).toEqual([]);
      expect(
        fit.ledger,
        `${width} px: the delivery ledger fits (its first column stays put if a long lane name ever makes it scroll)`,
      ).toBeLessThanOrEqual(0);
      expect(fit.doc, `${width} px: the page does not scroll sideways`).toBeLessThanOrEqual(fit.win);
      const captionBox = await page.locator('#lanes-table caption').boundingBox();
      expect(captionBox!.x + captionBox!.width).toBeLessThanOrEqual(width);
      // on a phone every number says which column it is
      if (width === 390)
        expect(
          await page
            .locator(cell('alpha', 'dropped'))
            .evaluate((el) => getComputedStyle(el as unknown as PageElement, '::before').content),
        ).toBe('"Dropped"');
      // the chart: a series per lane, within the window
      const legend = await page.locator('#overview-chart .u-legend .u-series .u-label').allTextContents();
      expect(legend).toEqual(expect.arrayContaining(['alpha', 'beta', 'gamma']));
      const chartBox = await page.locator('#overview-chart .uplot').boundingBox();
      expect(chartBox!.x + chartBox!.width).toBeLessThanOrEqual(width);
      await page.screenshot({ path: join(ARTIFACTS, `dashboard-overview-${width}.png`), fullPage: true });
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('shows one lane: totals, chart, TLS, ledger, records, rejects; the level filter works', async () => {
    await page.click('tr[data-lane="alpha"] a');
    await page.locator('#view-lane').waitFor({ state: 'visible' });
    await waitValue('#lane-totals [data-field="received"]', '123456');
    await page.locator('#rate-chart .uplot canvas').waitFor({ timeout: 5000 });
    await page.locator('#lane-tls').waitFor({ state: 'visible', timeout: 5000 });
    expect(await page.locator('#tls-body').textContent()).toContain('TLSv1.3');
    expect(await page.locator('#tls-body').textContent()).toContain('unknown_ca');
    expect(await valueOf('#ledger-body tr[data-stream="1"] [data-field="hwm"]')).toBe('100');
    await page.waitForFunction(
      () => document.querySelectorAll('#records-body tr[data-level]').length === 3,
      undefined,
      { timeout: 5000 },
    );
    expect(await page.locator('#records-body tr').first().textContent()).toContain('slow request'); // newest first
    await page.waitForFunction(
      () => document.querySelector('#rejects-body')?.textContent?.includes('{oops'),
      undefined,
      { timeout: 5000 },
    );

    // new records arrive while the page is open
    await appendRecords(
      dirs.alpha,
      'records-000001.ndjson',
      [
        { seq: 5, level: 'error', service: 'api', msg: 'disk full on /var' },
        { seq: 6, level: 'info', service: 'web', msg: 'GET / 200' },
      ],
      'alpha',
    );
    alpha = { ...alpha, received: 123_458, persisted: 123_402 };
    await writeStats(dirs.alpha, alpha);
    await page.waitForFunction(
      () => document.querySelector('#records-body')?.textContent?.includes('GET / 200'),
      undefined,
      { timeout: 5000 },
    );
    // many snapshots have arrived since the lane opened: still exactly one chart
    expect(await page.locator('#rate-chart .uplot').count()).toBe(1);

    await page.selectOption('#f-level', 'error');
    await page.waitForFunction(
      () => {
        const rows = [...document.querySelectorAll('#records-body tr[data-level]')];
        return rows.length === 2 && rows.every((r) => r.dataset.level === 'error');
      },
      undefined,
      { timeout: 5000 },
    );
    expect(await page.locator('#records-body').textContent()).toContain('disk full on /var');
    expect(
      await page
        .locator('#f-level')
        .evaluate((el) => (el as unknown as { labels: { length: number } | null }).labels?.length),
    ).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-lane.png'), fullPage: true });

    await page.selectOption('#f-level', '');
    await page.waitForFunction(
      () => document.querySelectorAll('#records-body tr[data-level]').length === 5,
      undefined,
      { timeout: 5000 },
    );
  });

  it('shows a lane as down within seconds when its process dies or its stats stop', async () => {
    await page.goto(`${dash.url}#/`);
    await page.locator('tr[data-lane="beta"]').waitFor();
    await waitValue(cell('beta', 'status'), 'up');
    const killedAt = Date.now();
    keeper.kill('SIGKILL');
    await waitValue(cell('beta', 'status'), 'down', DOWN_WITHIN_MS);
    const tookMs = Date.now() - killedAt;
    expect(await page.locator(cell('beta', 'status')).textContent()).toContain('process gone');
    // gamma never updated its stats after the start: stale by now
    await waitValue(cell('gamma', 'status'), 'down', DOWN_WITHIN_MS);
    expect(await page.locator(cell('gamma', 'status')).textContent()).toContain('not updated');
    // alpha keeps writing: still up
    expect(await valueOf(cell('alpha', 'status'))).toBe('up');
    expect(await page.title()).toMatch(/^\(2 down\)/);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-down.png'), fullPage: true });
    expect(tookMs).toBeLessThan(DOWN_WITHIN_MS);
    expect((page as Page & { failures?: string[] }).failures).toEqual([]);
  });
});

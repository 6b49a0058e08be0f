/**
 * The browser the dashboard tests drive (shared/dashboard/dashboard.browser.test.ts, scripts/stack.browser
 * .test.ts): Debian's chromium through playwright-core, headless, at 1280×900, with every page error kept;
 * screenshots go to test-artifacts/ (git-ignored). No chromium: the tests skip outside CI, with the command
 * that installs it (peers.ts); under CI=true that is a failure.
 */
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { findPeer, needPeers } from './peers.ts';

export const chromiumPeer = needPeers('chromium');

/** Where the screenshots go, for a human to look at. */
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];

/** Launches chromium and opens one 1280×900 page; its uncaught errors go into `failures`. */
export async function openPage(failures: string[]): Promise<{ browser: Browser; page: Page }> {
  chromiumPeer.assert();
  const browser = await chromium.launch({
    executablePath: findPeer('chromium') ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (err) => failures.push(err.message));
  await mkdir(ARTIFACTS, { recursive: true });
  return { browser, page };
}

// The callbacks given to page.waitForFunction / evaluate run in the page. The project is type-checked
// without the DOM lib (it is a Node project): a test declares `document` and `window` with these types.
export interface PageElement {
  dataset: Record<string, string | undefined>;
  textContent: string | null;
  scrollWidth: number;
  clientWidth: number;
}
export interface PageDocument {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
  documentElement: PageElement;
}
export interface PageWindow {
  innerWidth: number;
}

declare const document: PageDocument;
declare const window: PageWindow;

/** The overview fits the window: no sideways scrolling of its table or of the page. */
export async function expectOverviewFits(page: Page): Promise<void> {
  const widths = await page.evaluate(() => {
    const wrap = document.querySelector('#view-overview .table-wrap')!;
    return {
      wrap: wrap.scrollWidth,
      wrapClient: wrap.clientWidth,
      doc: document.documentElement.scrollWidth,
      win: window.innerWidth,
    };
  });
  expect(widths.wrap, `the overview table is ${widths.wrap} px wide in ${widths.wrapClient} px`).toBeLessThanOrEqual(
    widths.wrapClient,
  );
  expect(widths.doc).toBeLessThanOrEqual(widths.win);
}

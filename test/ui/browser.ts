/**
 * What the dashboard's browser tests share: Debian's Chromium (TRIBUTARY_TEST_CHROMIUM)
 * through playwright-core, a page signed in with a token, and reading what a page shows
 * (a stat's value, a bar chart's bars, a uPlot chart's series and data).
 */
import assert from 'node:assert/strict';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { pythonSkip } from '../interop/helpers.ts';

export const CHROMIUM = process.env.TRIBUTARY_TEST_CHROMIUM;
const NO_CHROMIUM =
  "TRIBUTARY_TEST_CHROMIUM is not set: these tests drive Debian's chromium (scripts/provision/chromium.sh installs it; npm test sets the variable)";
// Under CI a missing browser is a failure, not a skip: the dashboard must be proven there.
if (CHROMIUM === undefined && process.env.CI) throw new Error(NO_CHROMIUM);

/** Why the browser tests cannot run here (no Chromium, no Python for delta-rs), if they cannot. */
export const browserSkip: string | undefined = CHROMIUM === undefined ? NO_CHROMIUM : pythonSkip();

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu'],
  });
}

/** A page at `url` whose tab already holds `token` (as after signing in); no script errors allowed. */
export async function signedInPage(
  browser: Browser,
  url: string,
  token: string,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  await context.addInitScript((t) => sessionStorage.setItem('tributary.token', t), token);
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  context.on('close', () => assert.deepEqual(errors, [], 'no script errors'));
  return { context, page };
}

export const statValue = (page: Page, panel: string, column: string) =>
  page.getAttribute(`[data-panel="${panel}"] .stat[data-column="${column}"]`, 'data-value');

/** The bars of a `bars` panel: [label, value]. */
export const barsOf = (page: Page, panel: string) =>
  page.$$eval(`[data-panel="${panel}"] li`, (items) =>
    items.map((li): [string, number] => [
      li.getAttribute('data-label')!,
      Number(li.getAttribute('data-value')),
    ]),
  );

/** The versions a page's header shows: table → version. */
export async function versionsShown(page: Page): Promise<Record<string, number>> {
  const versions = await page.$$eval('.versions .version', (links) =>
    links.map((a) => [a.getAttribute('data-table'), Number(a.getAttribute('data-version'))]),
  );
  return Object.fromEntries(versions);
}

/**
 * The versions shown once they equal `want` (each table's version arrives with its own
 * push, so they may land one after another), or what is shown after `timeoutMs`.
 */
export async function versionsReached(
  page: Page,
  want: Record<string, number>,
  timeoutMs = 30_000,
): Promise<Record<string, number>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const shown = await versionsShown(page);
    if (JSON.stringify(shown) === JSON.stringify(want) || Date.now() > deadline) return shown;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface ChartShown {
  /** The series' labels (the first, the time axis, left out). */
  series: string[];
  /** uPlot's data: the times, then each series' values. */
  data: Array<Array<number | null>>;
  /** Canvas pixels painted at all, and of the first series' colour (#2563eb). */
  painted: number;
  line: number;
}

/** What a timeseries panel's uPlot chart holds and how much of it is drawn. */
export function chartOf(page: Page, panel: string): Promise<ChartShown> {
  return page.$eval(`[data-panel="${panel}"] .chart`, (box) => {
    // biome-ignore lint/suspicious/noExplicitAny: uPlot's instance, set by charts.js
    const u = (box as any).uplot;
    const canvas = box.querySelector('canvas')!;
    const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let line = 0;
    let painted = 0;
    for (let i = 0; i < pixels.length; i += 4) {
      if (pixels[i + 3] > 0) painted++;
      if (Math.abs(pixels[i] - 37) < 40 && Math.abs(pixels[i + 1] - 99) < 40 && pixels[i + 2] > 180) line++;
    }
    return {
      series: u.series.slice(1).map((s: { label: string }) => s.label),
      data: u.data.map((col: ArrayLike<number | null>) => Array.from(col)),
      line,
      painted,
    };
  });
}

/**
 * Long rows [t, series, value] as the chart of a `seriesBy` panel holds them: the
 * distinct times, then one line per series (sorted by name), 0 where a series has no row.
 */
export function wideOf(rows: Array<[number, string, number]>): { series: string[]; data: number[][] } {
  const series = [...new Set(rows.map((r) => r[1]))].sort();
  const times = [...new Set(rows.map((r) => r[0]))].sort((a, b) => a - b);
  const value = new Map(rows.map((r) => [`${r[0]}|${r[1]}`, r[2]]));
  return { series, data: [times, ...series.map((s) => times.map((t) => value.get(`${t}|${s}`) ?? 0))] };
}

/** Marks the page's window, so that `stillSamePage` can tell a reload (which forgets the mark). */
export async function markPage(page: Page): Promise<void> {
  await page.evaluate(() => {
    (globalThis as unknown as { stillHere: boolean }).stillHere = true;
  });
}

/** Whether the page marked by `markPage` is still the same (not reloaded). */
export function stillSamePage(page: Page): Promise<boolean> {
  return page.evaluate(() => (globalThis as unknown as { stillHere?: boolean }).stillHere === true);
}

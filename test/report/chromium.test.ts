import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { writeReport } from '../../src/report/report.js';
import { tempDir } from '../helpers.js';
import { writeFixtureRun } from './fixture-run.js';

/** Debian's chromium; another binary can be named with SBP_CHROMIUM. */
const CHROMIUM = process.env.SBP_CHROMIUM ?? '/usr/bin/chromium';

function requireChromium(): string {
  if (!existsSync(CHROMIUM)) {
    assert.fail(`${CHROMIUM} not found: the report test opens the HTML in headless Chromium. Install it with \`sudo apt-get install chromium\` (or \`sudo scripts/install-system-deps.sh\`), or point SBP_CHROMIUM at a Chromium binary.`);
  }
  return CHROMIUM;
}

interface PageLog {
  problems: string[]; // console errors and warnings, uncaught page errors, failed requests
  requests: string[];
}

async function openReport(browser: Browser, file: string, width: number): Promise<{ page: Page; log: PageLog }> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  const log: PageLog = { problems: [], requests: [] };
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') log.problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => log.problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => log.problems.push(`request failed: ${r.url()}`));
  page.on('request', (r) => log.requests.push(r.url()));
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  return { page, log };
}

test('the report renders in headless Chromium without errors, offline, with visible charts', { timeout: 120_000 }, async () => {
  const executablePath = requireChromium();
  const root = tempDir('sbp-report-browser-');
  const runDir = join(root, 'fixture');
  writeFixtureRun(runDir);
  const { path } = await writeReport(runDir);
  const url = pathToFileURL(path).href;

  const browser = await chromium.launch({ executablePath, headless: true });
  try {
    for (const width of [1100, 420]) {
      const { page, log } = await openReport(browser, path, width);
      assert.deepEqual(log.problems, [], `at ${width} px`);
      assert.deepEqual([...new Set(log.requests)], [url], 'the page loads nothing but itself');

      const charts = page.locator('figure.chart > svg');
      assert.equal(await charts.count(), 5, 'pair similarity, synthesizer loss, held-out loss, training loss, fraction of oracle gain');
      for (let i = 0; i < 5; i++) {
        const svg = charts.nth(i);
        assert.ok(await svg.isVisible(), `chart ${i} is visible`);
        const box = await svg.boundingBox();
        assert.ok(box && box.width > 100 && box.height > 50, `chart ${i} has a real size: ${JSON.stringify(box)}`);
        assert.ok(box!.width <= width, `chart ${i} fits the ${width} px viewport (${box!.width} px)`);
      }
      // the bars of the histogram are laid out, not collapsed
      const barWidths = await page.$$eval('[data-chart="pair-similarity"] path[aria-roledescription="bar"]', (els) => els.map((e) => e.getBoundingClientRect().height));
      assert.ok(barWidths.length > 30 && barWidths.every((h) => h >= 0) && barWidths.some((h) => h > 10), 'histogram bars have height');

      // every section is there and the page does not scroll sideways
      const ids = await page.$$eval('main > section', (els) => els.map((e) => e.id));
      assert.deepEqual(ids, ['plan', 'data', 'pairs', 'synthesizer', 'synthesis', 'training', 'results', 'quality']);
      // a string, evaluated in the page: this project compiles without the DOM types
      const overflow = (await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')) as number;
      assert.ok(overflow <= 0, `the page is ${overflow} px wider than the viewport at ${width} px`);
      // the hostile document text is shown as text: no element was created from it
      assert.equal(await page.locator('script, img').count(), 0);
      assert.ok((await page.locator('#synthesis').innerText()).includes('<script>alert("pwned")</script>'));

      const shot = join(root, `report-${width}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      assert.ok(statSync(shot).size > 50_000, 'a full-page screenshot with content');
      await page.close();
    }

    // an empty run: every section says "not run yet", still without errors
    const emptyDir = join(root, 'empty');
    writeFixtureRun(emptyDir, []);
    const empty = await writeReport(emptyDir);
    const { page, log } = await openReport(browser, empty.path, 1100);
    assert.deepEqual(log.problems, []);
    assert.equal(await page.locator('p.missing').count(), 8);
    assert.equal(await page.locator('svg').count(), 0);
    await page.close();
  } finally {
    await browser.close();
  }
});

test('at 1280 px with control arms the results table fits: its last column (fraction of oracle gain, with interval) is in view', { timeout: 120_000 }, async () => {
  const executablePath = requireChromium();
  const root = tempDir('sbp-report-1280-');
  const runDir = join(root, 'arms');
  writeFixtureRun(runDir, undefined, { extraArms: ['selfdistill', 'randompairs', 'baseline-wd0.3'] });
  const { path } = await writeReport(runDir);
  const browser = await chromium.launch({ executablePath, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
  try {
    const { page, log } = await openReport(browser, path, 1280);
    assert.deepEqual(log.problems, []);
    const overflow = (await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')) as number;
    assert.ok(overflow <= 0, `no sideways scrolling: the page is ${overflow} px wider than 1280 px`);

    const results = page.locator('#results table.results').first();
    const heads = await results.locator('thead th').allInnerTexts();
    assert.deepEqual(heads, ['metric', 'items', 'baseline', 'SBP', 'oracle', 'selfdistill', 'randompairs', 'baseline-wd0.3', 'fraction of oracle gain'], 'one column per model eval/ holds');
    // The last column is in view: inside the viewport and not clipped by the table's scroll box.
    const geometry = JSON.parse((await page.evaluate(`JSON.stringify((() => {
      const table = document.querySelector('#results table.results');
      const wrap = table.parentElement;
      const last = table.querySelector('thead th:last-child').getBoundingClientRect();
      const cell = table.querySelector('tbody tr:first-child td:last-child');
      const ci = cell.querySelector('.ci').getBoundingClientRect();
      return { lastRight: last.right, lastWidth: last.width, ciRight: ci.right, ciWidth: ci.width, wrapRight: wrap.getBoundingClientRect().right, scroll: wrap.scrollWidth - wrap.clientWidth, viewport: window.innerWidth };
    })())`)) as string);
    assert.ok(geometry.scroll <= 0, `the table needs no sideways scrolling (${geometry.scroll} px hidden)`);
    assert.ok(geometry.lastWidth > 0 && geometry.lastRight <= Math.min(geometry.viewport, geometry.wrapRight) + 0.5, `last column in view: ${JSON.stringify(geometry)}`);
    assert.ok(geometry.ciWidth > 0 && geometry.ciRight <= geometry.viewport, `the interval of the fraction is in view: ${JSON.stringify(geometry)}`);
    const fractionCell = await results.locator('tbody tr:first-child td:last-child').innerText();
    assert.match(fractionCell, /^\d+%\n\[\d+%, \d+%\]\nSBP gain/);

    // Held-out and training-loss curves for every run, with token ticks in readable units.
    for (const chart of ['heldout-loss', 'training-loss']) {
      const legend = await page.$$eval(`[data-chart="${chart}"] svg .role-legend-label text`, (els) => els.map((e) => e.textContent));
      assert.deepEqual([...legend].sort(), ['baseline', 'baseline-wd0.3', 'oracle', 'randompairs', 'sbp', 'selfdistill'], chart);
      const ticks = await page.$$eval(`[data-chart="${chart}"] svg .role-axis-label text`, (els) => els.map((e) => e.textContent ?? ''));
      const tokenTicks = ticks.filter((t) => /[kM]$/.test(t));
      assert.ok(tokenTicks.length >= 3, `${chart}: token ticks ${ticks.join(' ')}`);
      for (const t of tokenTicks) assert.match(t, /^\d+(\.\d{1,2})?[kM]$/, `${chart}: tick "${t}" has at most 3 significant digits`);
    }
    // The unreliable fraction (900%) is listed, not drawn as a bar.
    const bars = await page.$$eval('[data-chart="oracle-fraction"] path[aria-roledescription="bar"]', (els) => els.map((e) => e.getAttribute('aria-label') ?? ''));
    assert.equal(bars.length, 1, bars.join(' | '));
    assert.match(bars[0]!, /heldout\/ppl/);
    assert.match(await page.locator('[data-chart="oracle-fraction"] figcaption').innerText(), /Not drawn, because the fraction is unreliable \(see the notes above\): heldout\/bpb\./);
    // Notes a researcher needs next to the numbers.
    assert.match(await page.locator('#training').innerText(), /Different tokens, so the two perplexities differ \(baseline [\d.]+ here, 95\.2 in the results/);
    assert.match(await page.locator('#pairs').innerText(), /The first 400 characters at most of each document/);
    await page.screenshot({ path: join(root, 'report-1280.png'), fullPage: true });
    await page.close();
  } finally {
    await browser.close();
  }
});

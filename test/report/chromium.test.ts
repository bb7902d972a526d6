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
      assert.equal(await charts.count(), 4, 'pair similarity, synthesizer loss, held-out loss, fraction of oracle gain');
      for (let i = 0; i < 4; i++) {
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

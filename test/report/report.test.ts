import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../src/common/errors.js';
import { buildReport, buildReportDocument, writeReport, REPORT_FILE } from '../../src/report/report.js';
import { escapeHtml, html, trustedHtml } from '../../src/report/html.js';
import { inlineSvg } from '../../src/report/chart-svg.js';
import { formatNumber, formatSigned } from '../../src/report/tables.js';
import { tempDir } from '../helpers.js';
import { ALL_PARTS, HOSTILE, writeFixtureRun, type FixturePart } from './fixture-run.js';

const SECTIONS = ['plan', 'data', 'pairs', 'synthesizer', 'synthesis', 'training', 'results', 'quality'];
const FIXED = { generatedAt: new Date('2025-01-02T03:04:05Z') };

/** The markup of one section (from its opening tag to the next section or the end of main). */
function sectionHtml(doc: string, id: string): string {
  const start = doc.indexOf(`<section id="${id}"`);
  assert.ok(start >= 0, `section ${id} is missing`);
  const end = doc.indexOf('</section>', start);
  return doc.slice(start, end);
}

/** The inline SVG of one chart, by its figure's data-chart name. */
function chartSvg(doc: string, name: string): string {
  const start = doc.indexOf(`<figure class="chart" data-chart="${name}">`);
  assert.ok(start >= 0, `chart ${name} is missing`);
  return doc.slice(start, doc.indexOf('</svg>', start));
}

/** aria-labels of the SVG items of one kind of mark ("bar", "point", "line mark"). */
function markLabels(svg: string, role: string): string[] {
  const re = new RegExp(`<path aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="${role}"`, 'g');
  return [...svg.matchAll(re)].map((m) => m[1]!);
}

const full = (() => {
  const dir = join(tempDir('sbp-report-'), 'fixture');
  const facts = writeFixtureRun(dir);
  return { dir, facts, doc: buildReport(dir, FIXED) };
})();

test('every section is present, has data, and is listed in the table of contents', async () => {
  const { sections, html: doc } = await buildReportDocument(full.dir, FIXED);
  assert.deepEqual(sections.map((s) => s.id), SECTIONS);
  for (const s of sections) assert.equal(s.ready, true, `section ${s.id} should have data`);
  for (const id of SECTIONS) {
    assert.match(sectionHtml(doc, id), /data-status="ready"/);
    assert.ok(doc.includes(`<a href="#${id}">`), `table of contents links ${id}`);
    assert.match(sectionHtml(doc, id), /<p class="explain">[^<]{40,}/, `section ${id} explains itself`);
  }
  assert.ok(doc.startsWith('<!DOCTYPE html>'));
  assert.ok(!doc.includes('Not run yet'));
});

test('text from the run is escaped everywhere it appears', async () => {
  const doc = await full.doc;
  const escaped = escapeHtml(HOSTILE);
  // the hostile text is in a corpus document (pair sample and seed), a synthetic document and config.json
  const occurrences = doc.split(escaped).length - 1;
  assert.ok(occurrences >= 3, `expected the escaped text at least 3 times, found ${occurrences}`);
  assert.ok(!doc.includes(HOSTILE), 'the raw text never appears');
  assert.ok(!/<script\b/i.test(doc), 'no script element');
  assert.ok(!/<img\b/i.test(doc), 'no img element');
  assert.ok(!/\son[a-z]+=/i.test(doc.replace(/&lt;img src=x onerror=alert\(1\)&gt;/g, '')), 'no event-handler attribute');
});

test('the page references nothing outside itself', async () => {
  const doc = await full.doc;
  for (const tag of ['script', 'link', 'iframe', 'object', 'embed', 'img', 'video', 'audio', 'source', 'base']) {
    assert.ok(!new RegExp(`<${tag}\\b`, 'i').test(doc), `no <${tag}>`);
  }
  const refs = [...doc.matchAll(/\s(?:src|href|xlink:href|action|poster|srcset)="([^"]*)"/gi)].map((m) => m[1]!);
  assert.ok(refs.length > 0, 'the table of contents has in-page links');
  for (const r of refs) assert.ok(r.startsWith('#'), `reference "${r}" leaves the page`);
  for (const m of doc.matchAll(/url\(([^)]*)\)/g)) assert.ok(m[1]!.startsWith('#'), `CSS/SVG url(${m[1]}) leaves the page`);
  assert.ok(!/@import/i.test(doc));
  // the only URL in the file is the one inside the (escaped) hostile text
  const urls = [...doc.matchAll(/https?:\/\/[^\s"'<>&]+/g)].map((m) => m[0]);
  assert.ok(urls.every((u) => u === 'http://evil.example/x.png'), `unexpected URLs: ${[...new Set(urls)].join(', ')}`);
});

test('the similarity histogram has one bar per non-empty bin of each series, with the counts', async () => {
  const doc = await full.doc;
  const svg = chartSvg(doc, 'pair-similarity');
  const bars = markLabels(svg, 'bar');
  const nonEmpty = (c: number[]) => c.filter((n) => n > 0).length;
  const { candidateCounts, pairCounts, alpha } = full.facts;
  const candidates = bars.filter((l) => l.endsWith('series: candidates'));
  const kept = bars.filter((l) => l.endsWith('series: kept pairs'));
  assert.equal(candidates.length, nonEmpty(candidateCounts));
  assert.equal(kept.length, nonEmpty(pairCounts));
  assert.ok(kept.length > 3 && candidates.length > 30, 'the fixture is a real histogram');
  const total = (labels: string[]) => labels.reduce((a, l) => a + Number(/neighbour pairs: ([\d,]+)/.exec(l)![1]!.replace(/,/g, '')), 0);
  assert.equal(total(candidates), candidateCounts.reduce((a, b) => a + b, 0));
  assert.equal(total(kept), pairCounts.reduce((a, b) => a + b, 0));
  // every kept bar lies right of α
  for (const l of kept) assert.ok(Number(/d2: ([\d.]+)/.exec(l)![1]) >= alpha - 0.01 - 1e-9, l);
  assert.ok(svg.includes(`α = ${alpha.toFixed(3)}`));
});

test('the held-out loss chart has the three runs with every logged evaluation', async () => {
  const doc = await full.doc;
  const svg = chartSvg(doc, 'heldout-loss');
  const points = markLabels(svg, 'point');
  for (const [run, n] of Object.entries(full.facts.evalRows)) {
    assert.equal(points.filter((l) => l.endsWith(`run: ${run}`)).length, n, `points of ${run}`);
  }
  assert.equal(markLabels(svg, 'line mark').length, 3, 'one line per run');
  assert.ok(!points.some((l) => l.includes('synthesizer')), 'the synthesizer is not a pretraining run');
  // the synthesizer chart has its training and held-out series
  const synth = markLabels(chartSvg(doc, 'synthesizer-loss'), 'point');
  assert.equal(synth.filter((l) => l.includes('training loss')).length, 30);
  assert.equal(synth.filter((l) => l.includes('held-out loss')).length, 3);
});

test('the results table shows gains and the fraction of oracle gain', async () => {
  const doc = await full.doc;
  const results = sectionHtml(doc, 'results');
  const { baseline, sbp, oracle } = full.facts.ppl;
  const fraction = `${Math.round((100 * (sbp - baseline)) / (oracle - baseline))}%`;
  assert.ok(results.includes(`<strong>${fraction}</strong>`), `fraction ${fraction} shown`);
  assert.ok(results.includes(formatSigned(sbp - baseline)), 'SBP gain shown');
  assert.ok(results.includes(formatSigned(oracle - baseline)), 'oracle gain shown');
  assert.ok(results.includes('fraction of oracle gain is undefined'), 'the note of a metric without a fraction');
  assert.match(results, /0% means the synthetic data did not help, 100% means/);
  assert.equal(markLabels(chartSvg(doc, 'oracle-fraction'), 'bar').length, 1, 'one bar: the metric with a fraction');
  assert.ok(doc.includes(`SBP recovers <strong>${fraction}</strong>`), 'the headline');
});

test('seeds sit next to the synthetic documents written from them; quality compares with real data', async () => {
  const doc = await full.doc;
  const synthesis = sectionHtml(doc, 'synthesis');
  const pairs = synthesis.split('<div class="pair">').slice(1);
  assert.equal(pairs.length, 4, 'four examples by default');
  const ids = [...full.facts.synthSeeds.keys()];
  pairs.forEach((p, i) => {
    const seedId = full.facts.synthSeeds.get(ids[i]!)!;
    assert.ok(p.includes(escapeHtml(ids[i]!)), `example ${i} names its synthetic id`);
    assert.ok(p.includes(`seed d1 · ${escapeHtml(seedId)}`), `example ${i} names its seed`);
    assert.ok(p.includes(escapeHtml(full.facts.corpusText.get(seedId)!)), `example ${i} shows its seed's text`);
  });
  const quality = sectionHtml(doc, 'quality');
  assert.match(quality, /<th>measure<\/th><th>sampled \(before filters\)<\/th><th>synthetic corpus \(kept\)<\/th><th>real documents<\/th>/);
  assert.match(quality, /<td>documents measured<\/td><td>9<\/td><td>5<\/td><td>5<\/td>/);
  assert.match(quality, /<td>repetitionRate<\/td><td>33\.33%<\/td><td>20\.00%<\/td><td>4\.00%<\/td>/);
  // real documents take their pair-copying rate from mined pairs; they have no irrelevance rate
  assert.match(quality, /<td>pairCopyingRate<\/td><td>11\.11%<\/td><td>2\.00%<\/td><td>25\.00%<\/td>/);
  assert.match(quality, /<td>pairIrrelevanceRate<\/td><td>22\.22%<\/td><td>20\.00%<\/td><td>—<\/td>/);
});

// [parts written, sections expected to have data]
const partial: Array<[string, FixturePart[], string[]]> = [
  ['an empty run', [], []],
  ['only the corpus', ['corpus'], ['data']],
  ['up to pairs', ['config', 'corpus', 'tokenizer', 'tokens', 'pairs'], ['data', 'pairs']],
  ['baseline training, no eval', ['corpus', 'models'], ['data', 'training']],
  ['everything but the evaluation', ALL_PARTS.filter((p) => p !== 'eval'), SECTIONS.filter((s) => s !== 'results')],
];

for (const [name, parts, ready] of partial) {
  test(`a partial run (${name}) marks the missing sections "not run yet"`, async () => {
    const dir = join(tempDir('sbp-report-'), 'partial');
    writeFixtureRun(dir, parts);
    const { sections, html: doc } = await buildReportDocument(dir, FIXED);
    assert.deepEqual(sections.filter((s) => s.ready).map((s) => s.id), ready);
    for (const id of SECTIONS) {
      const s = sectionHtml(doc, id);
      if (ready.includes(id)) assert.ok(!s.includes('Not run yet'), `${id} has data`);
      else assert.match(s, /data-status="missing"[\s\S]*Not run yet\.<\/strong> Run <code>sbp /, `${id} says what to run`);
    }
  });
}

test('a model still training shows its curve so far and ignores a half-written last line', async () => {
  const dir = join(tempDir('sbp-report-'), 'running');
  writeFixtureRun(dir, ['corpus', 'models']);
  appendFileSync(join(dir, 'models', 'sbp', 'metrics.jsonl'), '{"kind":"eval","step":44,"tok'); // cut mid-write
  rmSync(join(dir, 'models', 'oracle', 'manifest.json')); // the oracle is still training
  const doc = await buildReport(dir, FIXED);
  const training = sectionHtml(doc, 'training');
  assert.match(training, /oracle<\/td><td>running or interrupted<\/td>/);
  assert.equal(markLabels(chartSvg(doc, 'heldout-loss'), 'point').filter((l) => l.endsWith('run: sbp')).length, 11);
});

// [file, content, expected message]
const corrupt: Array<[string, string, RegExp]> = [
  ['pairs/stats.json', '{"documents": 3,', /pairs[/\\]stats\.json: not valid JSON .*sbp pair --force/],
  ['eval/results.json', 'nope', /eval[/\\]results\.json: not valid JSON .*sbp eval --force/],
  ['experiment/plan.json', '[1,', /experiment[/\\]plan\.json: not valid JSON .*sbp experiment/],
  ['models/baseline/metrics.jsonl', '{"kind":"eval","step":0,"tokens":0,"heldoutLoss":7}\n{broken\n{"kind":"eval","step":1,"tokens":9,"heldoutLoss":6}\n', /metrics\.jsonl:2: not valid JSON .*sbp train --model baseline --force/],
  ['pairs/samples.jsonl', '[1,2]\n', /samples\.jsonl:1: expected a JSON object per line/],
];

for (const [file, content, message] of corrupt) {
  test(`a corrupt ${file} is a user error naming the file`, async () => {
    const dir = join(tempDir('sbp-report-'), 'corrupt');
    writeFixtureRun(dir, ['corpus', 'pairs']);
    mkdirSync(join(dir, file, '..'), { recursive: true });
    writeFileSync(join(dir, file), content);
    await assert.rejects(buildReport(dir), (err: unknown) => err instanceof UserError && message.test(err.message));
  });
}

test('a run directory that does not exist is a user error', async () => {
  await assert.rejects(buildReport(join(tempDir('sbp-report-'), 'nope')), (err: unknown) => err instanceof UserError && /no such run directory/.test(err.message));
});

test('writeReport writes report.html atomically, and builds are reproducible', async () => {
  const { path, sections } = await writeReport(full.dir, FIXED);
  assert.equal(path, join(full.dir, REPORT_FILE));
  assert.equal(sections.length, SECTIONS.length);
  assert.equal(readFileSync(path, 'utf8'), await buildReport(full.dir, FIXED));
  assert.deepEqual(readdirSync(full.dir).filter((n) => n.includes('.tmp')), []);
  assert.ok(existsSync(path));
});

test('html escapes interpolated text and keeps trusted fragments', () => {
  const cases: Array<[string, string]> = [
    ['<b>', '&lt;b&gt;'],
    ['a & b', 'a &amp; b'],
    [`"x" 'y'`, '&quot;x&quot; &#39;y&#39;'],
    ['&amp;', '&amp;amp;'],
    ['plain', 'plain'],
  ];
  for (const [raw, want] of cases) {
    assert.equal(escapeHtml(raw), want);
    assert.equal(html`<td>${raw}</td>`.value, `<td>${want}</td>`);
  }
  assert.equal(html`<p>${trustedHtml('<em>x</em>')}${['<', html`<br>`]}${null}${false}${3}</p>`.value, '<p><em>x</em>&lt;<br>3</p>');
});

test('inline SVG ids are prefixed per chart so two charts never share a clip path', () => {
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="3"><defs><clipPath id="clip1"><rect/></clipPath></defs><g clip-path="url(#clip1)"><use xlink:href="#clip1"/></g></svg>';
  assert.equal(
    inlineSvg(svg, 'chart-a'),
    '<svg id="chart-a" role="img" width="3"><defs><clipPath id="chart-a-clip1"><rect/></clipPath></defs><g clip-path="url(#chart-a-clip1)"><use xlink:href="#chart-a-clip1"/></g></svg>',
  );
});

test('numbers are formatted for reading', () => {
  const cases: Array<[number | null, string]> = [
    [1234567, '1,234,567'],
    [0.123456, '0.1235'],
    [88.61, '88.61'],
    [12345.678, '12,345.7'],
    [2.1e11, '2.10e+11'],
    [0.00001234, '1.23e-5'],
    [null, '—'],
    [Number.NaN, '—'],
    [Number.POSITIVE_INFINITY, '∞'],
  ];
  for (const [x, want] of cases) assert.equal(formatNumber(x), want, String(x));
  assert.equal(formatSigned(-6.6), '−6.6');
  assert.equal(formatSigned(0.5), '+0.5');
});

test('data section: skipped files are counted from the per-reason map prepare writes', async () => {
  const data = sectionHtml(await full.doc, 'data');
  const row = /<tr><td>brown<\/td>(.*?)<\/tr>/s.exec(data);
  assert.ok(row, 'the sources table has a row for brown');
  const cells = [...row[1]!.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((m) => m[1]);
  assert.equal(cells[cells.length - 1], '2', `cells: ${cells.join(' | ')}`);
});

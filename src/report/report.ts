import { join } from 'node:path';
import { writeFileAtomic } from '../common/fs-atomic.js';
import { html, trustedHtml } from './html.js';
import { readRunSnapshot, type RunSnapshot, type SnapshotOptions } from './run-snapshot.js';
import { dataSection, headline, pairsSection, planSection, qualitySection, renderSection, resultsSection, synthesisSection, synthesizerSection, trainingSection, type ReportSection } from './sections.js';
import { REPORT_CSS } from './style.js';

export const REPORT_FILE = 'report.html';

export interface ReportOptions extends SnapshotOptions {
  /** Shown in the footer; defaults to now. Fixed in tests so two builds compare equal. */
  generatedAt?: Date;
}

/** The sections in reading order: what was planned, the data, each stage's output, then the verdict. */
async function sections(run: RunSnapshot): Promise<ReportSection[]> {
  return [
    planSection(run),
    dataSection(run),
    await pairsSection(run),
    await synthesizerSection(run),
    synthesisSection(run),
    await trainingSection(run),
    await resultsSection(run),
    qualitySection(run),
  ];
}

/**
 * The report of a run directory as one self-contained HTML document: inline CSS, charts as inline
 * SVG rendered here, no script and no reference to anything outside the file. Sections whose stage
 * has not run say so. All text taken from the run is HTML-escaped.
 */
export async function buildReport(runDir: string, opts: ReportOptions = {}): Promise<string> {
  return (await buildReportDocument(runDir, opts)).html;
}

/** Which sections of a report have data: for the CLI's summary and for callers that check. */
export interface SectionStatus {
  id: string;
  title: string;
  ready: boolean;
}

export interface ReportDocument {
  html: string;
  sections: SectionStatus[];
}

export async function buildReportDocument(runDir: string, opts: ReportOptions = {}): Promise<ReportDocument> {
  const run = await readRunSnapshot(runDir, opts);
  const list = await sections(run);
  const ready = list.filter((s) => s.body !== null).length;
  const when = (opts.generatedAt ?? new Date()).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const page = html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="sbp report">
<title>SBP report — ${run.name}</title>
<style>${trustedHtml(REPORT_CSS)}</style>
</head>
<body>
<main>
<header><h1>Synthetic Bootstrapped Pretraining — ${run.name}</h1>
<p class="sub">Run directory <code>${run.runDir}</code> · ${ready} of ${list.length} sections have data.</p>
${headline(run)}
<p class="explain">SBP mines pairs of related documents from a corpus, trains a model to write one given the other, samples a synthetic corpus from it, and pretrains on real plus synthetic text. This report follows one run through those steps and ends with the compute-matched comparison: does the synthetic data recover part of what more real data would give?</p>
</header>
<nav class="toc" aria-label="Sections"><ol>${list.map((s) => html`<li><a href="#${s.id}">${s.title}</a>${s.body ? null : html` <span class="state">(not run yet)</span>`}</li>`)}</ol></nav>
${list.map((s) => html`${renderSection(s)}\n`)}
${run.config ? html`<details><summary>Run configuration (config.json)</summary><pre>${JSON.stringify(run.config, null, 2)}</pre></details>` : null}
<footer>Written by <code>sbp report</code> on ${when}. This file is self-contained: it loads nothing from the network.</footer>
</main>
</body>
</html>
`;
  return { html: page.value, sections: list.map((s) => ({ id: s.id, title: s.title, ready: s.body !== null })) };
}

/** Builds the report and writes it atomically to `<runDir>/report.html`. */
export async function writeReport(runDir: string, opts: ReportOptions = {}): Promise<{ path: string; sections: SectionStatus[] }> {
  const path = join(runDir, REPORT_FILE);
  const doc = await buildReportDocument(runDir, opts);
  writeFileAtomic(path, doc.html);
  return { path, sections: doc.sections };
}

import { renderChartSvg } from './chart-svg.js';
import { fractionOfOracleGainSpec, heldoutLossSpec, RUN_COLORS, runColor, similarityBins, similarityHistogramSpec, synthesizerLossSpec, trainingLossSpec } from './charts.js';
import { EXCERPT_CHARS } from '../pairs/pair-miner.js';
import { html, type HtmlValue, type SafeHtml } from './html.js';
import { SYNTHESIZER_MODEL, type ComparisonRow, type EstimateCell, type Interval, type ModelRun, type RunSnapshot } from './run-snapshot.js';
import type { SeedSpread, VariantGroup } from '../eval/variant-summary.js';
import { flattenScalars, formatNumber, formatPercent, formatSigned, keyValueTable, table } from './tables.js';

/** One section of the report: its anchor, title, the explanation, and its body (null = stage not run yet). */
export interface ReportSection {
  id: string;
  title: string;
  body: SafeHtml | null;
  explain: SafeHtml;
  missing: string; // what to run to fill the section; `backticks` mark commands
}

/** Text with `command` spans, rendered with <code>. */
function withCode(text: string): SafeHtml {
  return html`${text.split('`').map((part, i) => (i % 2 === 1 ? html`<code>${part}</code>` : part))}`;
}

/** Characters of a document shown in the report; the rest is cut with "…" (documents can be book-length). */
export const DOC_CHARS = 1500;

function excerpt(text: string, chars = DOC_CHARS): string {
  const cps = Array.from(text);
  return cps.length <= chars ? text : `${cps.slice(0, chars).join('')}…`;
}

function chartFigure(name: string, svg: SafeHtml, caption: string): SafeHtml {
  return html`<figure class="chart" data-chart="${name}">${svg}<figcaption>${caption}</figcaption></figure>`;
}

export function renderSection(s: ReportSection): SafeHtml {
  const status = s.body ? 'ready' : 'missing';
  return html`<section id="${s.id}" data-status="${status}"><h2>${s.title}</h2><p class="explain">${s.explain}</p>${
    s.body ?? html`<p class="missing"><strong>Not run yet.</strong> ${withCode(s.missing)}</p>`
  }</section>`;
}

// ---- plan ----

export function planSection(run: RunSnapshot): ReportSection {
  const plan = run.plan;
  let body: SafeHtml | null = null;
  if (plan) {
    const runs = plan.runs;
    const runRows = Array.isArray(runs)
      ? (runs as unknown[]).filter((r): r is Record<string, unknown> => r !== null && typeof r === 'object')
      : runs && typeof runs === 'object'
        ? Object.entries(runs as Record<string, unknown>).map(([name, r]) => ({ name, ...(r as Record<string, unknown>) }))
        : [];
    const rest = Object.fromEntries(Object.entries(plan).filter(([k]) => k !== 'runs'));
    let runsTable: SafeHtml | null = null;
    if (runRows.length > 0) {
      const flat = runRows.map((r) => new Map(flattenScalars(r, { maxDepth: 2 })));
      const cols = [...new Set(flat.flatMap((m) => [...m.keys()]))];
      runsTable = table(cols, flat.map((m) => cols.map((c) => m.get(c) ?? '—')), 'plan-runs');
    }
    const notes = Array.isArray(rest.notes) ? (rest.notes as unknown[]).map(String) : [];
    delete rest.notes;
    body = html`${runsTable}${notes.length > 0 ? html`<ul class="notes">${notes.map((n) => html`<li>${n}</li>`)}</ul>` : null}${Object.keys(rest).length > 0 ? html`<h3>Budgets and settings</h3>${keyValueTable(rest)}` : null}`;
  }
  return {
    id: 'plan',
    title: 'The compute-matched plan',
    explain: html`Three runs train the same model with the same hyper-parameters, seed and token budget <em>B</em>; only the data differs. The <strong>baseline</strong> repeats <em>U</em> unique real tokens until it has seen <em>B</em> tokens. <strong>SBP</strong> repeats the same <em>U</em> real tokens and adds <em>S</em> synthetic tokens, each used once. The <strong>oracle</strong> sees up to 20×<em>U</em> unique real tokens: what collecting more real data would buy. Repetitions say how many times each real token is seen; FLOPs and time are estimates made before training.`,
    body,
    missing: 'Run `sbp experiment` to plan (and run) the three runs.',
  };
}

// ---- data ----

export function dataSection(run: RunSnapshot): ReportSection {
  const parts: SafeHtml[] = [];
  const c = run.corpus;
  if (c) {
    const drops = Object.entries(c.drops ?? {}).filter(([, n]) => n > 0);
    parts.push(html`<h3>Corpus</h3>${table(
      ['', 'documents', 'characters'],
      [
        ['read', formatNumber(c.docsIn), formatNumber(c.charsIn)],
        ['kept', formatNumber(c.docsOut), formatNumber(c.charsOut)],
        ...Object.entries(c.splits ?? {}).map(([split, s]) => [html`&nbsp;&nbsp;${split} split (${formatNumber(s.shards)} shards)`, formatNumber(s.docs), formatNumber(s.chars)] as HtmlValue[]),
      ],
    )}<p class="note">Dropped: ${drops.length === 0 ? 'nothing' : drops.map(([r, n]) => `${formatNumber(n)} ${r.replace(/_/g, ' ')}`).join(', ')}${
      c.invalidUtf8Repaired > 0 ? `; ${formatNumber(c.invalidUtf8Repaired)} documents had invalid UTF-8 repaired` : ''
    }${c.stoppedAtMaxDocs ? '; reading stopped at prepare.maxDocs' : ''}.</p>${
      (c.sources ?? []).length > 0
        ? table(
            ['source', 'documents', 'malformed records', 'skipped files'],
            c.sources.map((s) => [s.source, formatNumber(s.docs), formatNumber(s.malformed), formatNumber(Object.values(s.skippedFiles ?? {}).reduce((a, b) => a + b, 0))]),
          )
        : null
    }`);
  }
  const t = run.tokenizer;
  if (t) {
    parts.push(html`<h3>Tokenizer</h3>${table(
      ['vocabulary', 'merges', 'trained on', 'held-out bytes per token'],
      [[formatNumber(t.vocabSize), formatNumber(t.merges), `${formatNumber(t.bytesTrained)} bytes of ${formatNumber(t.docsTrained)} documents`, formatNumber(t.heldout?.bytesPerToken ?? null)]],
    )}`);
  }
  const k = run.tokens;
  if (k) {
    parts.push(html`<h3>Tokens</h3>${table(
      ['split', 'documents', 'tokens', 'bytes of text', 'bytes per token', 'longest document (tokens)'],
      Object.entries(k.splits ?? {}).map(([split, s]) => [split, formatNumber(s!.docs), formatNumber(s!.tokens), formatNumber(s!.bytes), formatNumber(s!.tokens > 0 ? s!.bytes / s!.tokens : null), formatNumber(s!.maxDocTokens)]),
    )}`);
  }
  const u = uniqueTokensOf(run);
  if (parts.length > 0 && u !== null) {
    parts.push(html`<p class="note">These counts are of the whole prepared corpus. The experiment's baseline and SBP runs train on a subset <em>U</em> of it, ${formatNumber(u)} tokens of whole training documents (<code>experiment.uniqueTokens</code>); the oracle draws up to ${formatNumber(oracleFactorOf(run))}× as many from the same training split, and every held-out loss is measured on the held-out split above. The plan section lists the exact subsets.</p>`);
  }
  return {
    id: 'data',
    title: 'Data',
    explain: html`The real corpus every run starts from: how many documents were read and kept (and why the others were dropped), the train / held-out split, and how the tokenizer compresses the text. The held-out split is never trained on; every held-out loss below is measured on it. More bytes per token means the tokenizer packs more text into each token.`,
    body: parts.length > 0 ? html`${parts}` : null,
    missing: 'Run `sbp prepare`, `sbp tokenizer train` and `sbp tokenize`.',
  };
}

// ---- pairs ----

export async function pairsSection(run: RunSnapshot): Promise<ReportSection> {
  const p = run.pairs;
  let body: SafeHtml | null = null;
  if (p) {
    const s = p.stats;
    const bins = similarityBins(s.similarity);
    const chart = bins.length > 0 ? chartFigure('pair-similarity', await renderChartSvg(similarityHistogramSpec(bins, s.alpha.value), 'chart-pair-similarity'), `Similarity of every candidate neighbour pair (grey) and of the pairs kept (blue), in bins of ${s.similarity.candidates.binWidth}; the dashed line is α.`) : html`<p class="note">No candidate pairs: the histogram is empty.</p>`;
    const alpha = s.alpha.value === null ? 'none' : `${s.alpha.value.toFixed(4)}${s.alpha.mode === 'quantile' ? ` (the ${s.alpha.quantile} quantile of candidate similarities)` : ''}`;
    const facts = table(
      ['', ''],
      [
        ['documents embedded', formatNumber(s.documents)],
        ['neighbours per document (k)', formatNumber(s.k)],
        ['search', s.search === 'ann' ? `HNSW${s.recall ? `, recall@${s.recall.k} ${formatNumber(s.recall.value)} against exact search` : ''}` : 'exact'],
        ['α', alpha],
        ['candidate pairs', formatNumber(s.candidates)],
        ['pairs kept', formatNumber(s.pairs)],
        ['documents with a partner', formatPercent(s.partners?.shareWithPartner)],
        ['partners per document (mean)', formatNumber(s.partners?.meanPerDocument)],
      ],
      'kv',
    );
    const drops = Object.entries(s.drops ?? {}).map(([r, n]) => `${formatNumber(n)} ${r.replace(/_/g, ' ')}`).join(', ');
    const samples = p.samples.length > 0
      ? html`<h3>Sample pairs</h3><p class="note">The first ${formatNumber(EXCERPT_CHARS)} characters at most of each document (the excerpts the pair stage keeps in pairs/stats.json; "…" marks a cut). Rows marked <span class="tag drop">near-duplicate</span> were dropped, shown so the filter can be checked.</p>${p.samples.map(
          (x) => html`<div class="pair${x.dropped ? ' dropped' : ''}"><div class="pair-head">similarity <strong>${formatNumber(x.similarity)}</strong>${x.jaccard !== null ? html` · shingle Jaccard ${formatNumber(x.jaccard)}` : null}${x.dropped ? html` <span class="tag drop">near-duplicate</span>` : null}</div><div class="side-by-side"><div><div class="doc-label">d1 · ${x.id1}</div><div class="doc">${excerpt(x.text1)}</div></div><div><div class="doc-label">d2 · ${x.id2}</div><div class="doc">${excerpt(x.text2)}</div></div></div></div>`,
        )}`
      : null;
    body = html`${alphaNote(run)}${chart}${facts}<p class="note">Neighbours dropped: ${drops || 'none'}.</p>${samples}`;
  }
  return {
    id: 'pairs',
    title: 'Related-document pairs',
    explain: html`SBP learns to write a document d2 given a related document d1, from pairs found in the corpus itself. Every document is embedded; its nearest neighbours by cosine similarity are candidates; a candidate becomes a pair when its similarity is above α and the two texts are not near-duplicates. In the histogram, the blue mass right of α is what the synthesizer trains on; a threshold far in the tail keeps few pairs, one inside the bulk keeps loosely related ones. Read the sample pairs to judge whether “related” means “about the same thing” rather than “copies”.`,
    body,
    missing: 'Run `sbp embed` and `sbp pair`.',
  };
}

// ---- synthesizer ----

export async function synthesizerSection(run: RunSnapshot): Promise<ReportSection> {
  const m = run.models.find((x) => x.name === (run.sweep?.synthesizer ?? SYNTHESIZER_MODEL));
  let body: SafeHtml | null = null;
  if (m) {
    const hasCurve = m.steps.some((s) => s.loss !== null) || m.evals.length > 0;
    const chart = hasCurve ? chartFigure('synthesizer-loss', await renderChartSvg(synthesizerLossSpec(m), 'chart-synthesizer-loss'), 'Loss on d2 tokens while tuning (light) and on held-out pairs whose d1 was never trained on (red).') : null;
    body = html`${alphaNote(run)}${chart}${m.finished ? null : html`<p class="note">Tuning has not finished: the curve shows the steps logged so far.</p>`}${conditioningTable(m.stats?.eval)}${m.stats ? html`<h3>Tuning summary</h3>${keyValueTable(m.stats, { skip: ['modelConfig', 'eval'] })}` : null}`;
  }
  return {
    id: 'synthesizer',
    title: 'Synthesizer tuning',
    explain: html`The synthesizer starts from the baseline model and is trained on sequences “d1 [sep] d2”, with loss on d2's tokens only: it learns p(d2 | d1). Falling training loss shows it fits the pairs; the held-out loss, on pairs it never saw, shows whether it generalises. When the summary lists the baseline's unconditional loss on the same d2 documents, the gap between the two is what reading d1 is worth.`,
    body,
    missing: 'Run `sbp tune` (after `sbp pair`).',
  };
}

interface PairLossLike {
  loss: number;
  ppl: number;
  tokens: number;
}

/** The tune stage's held-out comparison: the same d2 tokens scored without d1, and with it. */
function conditioningTable(ev: unknown): SafeHtml | null {
  if (!ev || typeof ev !== 'object') return null;
  const e = ev as Record<string, PairLossLike | number | undefined>;
  const rows: Array<[string, unknown]> = [
    ['baseline, d2 alone: log p(d2)', e.baselineUnconditional],
    ['baseline, d2 after d1 (before tuning)', e.baselineConditional],
    ['synthesizer, d2 after d1: log p(d2 | d1)', e.synthesizerConditional],
  ];
  const shown = rows.filter((r): r is [string, PairLossLike] => r[1] !== null && typeof r[1] === 'object' && typeof (r[1] as PairLossLike).loss === 'number');
  if (shown.length === 0) return null;
  const gain = typeof e.gainNatsPerToken === 'number' ? e.gainNatsPerToken : null;
  return html`<h3>What reading d1 is worth</h3>${table(
    ['model and input', 'loss (nats / d2 token)', 'perplexity', 'd2 tokens'],
    shown.map(([label, l]) => [label, formatNumber(l.loss), formatNumber(l.ppl), formatNumber(l.tokens)]),
  )}${gain !== null ? html`<p class="note">On ${formatNumber(typeof e.pairs === 'number' ? e.pairs : null)} held-out pairs, conditioning on d1 lowers the loss of d2 by <strong>${formatNumber(gain)}</strong> nats per token (positive = the synthesizer uses d1).</p>` : null}`;
}

// ---- synthesis ----

export function synthesisSection(run: RunSnapshot): ReportSection {
  const s = run.synth;
  let body: SafeHtml | null = null;
  if (s) {
    const examples = s.examples.length > 0
      ? html`<h3>Seeds and what was written from them</h3><p class="note">The first ${formatNumber(DOC_CHARS)} characters at most of each document; "…" marks a cut.</p>${s.examples.map((e) => {
          const info = ['finish_reason', 'finishReason', 'temperature', 'top_p', 'topP', 'tokens']
            .filter((k) => e.meta[k] !== undefined)
            .map((k) => `${k} ${typeof e.meta[k] === 'number' ? formatNumber(e.meta[k] as number) : String(e.meta[k])}`)
            .join(' · ');
          return html`<div class="pair"><div class="pair-head">${e.id}${info ? html` · ${info}` : null}</div><div class="side-by-side"><div><div class="doc-label">seed d1 · ${e.seedId ?? 'no seed id'}</div>${
            e.seedText !== null ? html`<div class="doc">${excerpt(e.seedText)}</div>` : html`<div class="doc missing-doc">The seed is not in corpus/train-*.jsonl.</div>`
          }</div><div><div class="doc-label">synthetic d2</div><div class="doc">${excerpt(e.text)}</div></div></div></div>`;
        })}`
      : html`<p class="note">No synthetic document has been written yet.</p>`;
    body = html`${alphaNote(run)}${s.stats ? html`<h3>Counts</h3>${keyValueTable(s.stats, { maxDepth: 3, skip: ['quality'] })}` : null}${examples}`;
  }
  return {
    id: 'synthesis',
    title: 'Synthetic documents',
    explain: html`Seeds d1 are drawn uniformly from the real corpus and the synthesizer samples a new document from p(· | d1); rule-based filters then drop samples that are too short, cut off, repetitive, copied from the seed or exact duplicates (the counts say how many and why). A good synthetic document is about the same concept as its seed but is not a paraphrase of it: compare the two columns.`,
    body,
    missing: 'Run `sbp synthesize` (after `sbp tune`).',
  };
}

// ---- training ----

export async function trainingSection(run: RunSnapshot): Promise<ReportSection> {
  const trained = run.models.filter((m) => m.name !== SYNTHESIZER_MODEL && !m.name.startsWith(`${SYNTHESIZER_MODEL}-`));
  let body: SafeHtml | null = null;
  if (trained.length > 0) {
    const order = (n: string) => (n in RUN_COLORS ? Object.keys(RUN_COLORS).indexOf(n) : 99);
    const models = [...trained].sort((a, b) => order(a.name) - order(b.name) || a.name.localeCompare(b.name));
    const withCurve = models.filter((m) => m.evals.length > 0);
    // A sweep with several seeds: one line per variant, the mean over its seeds, so the chart stays readable.
    const lines = withCurve.some((m) => /-seed\d+$/.test(m.name)) ? seedMeans(withCurve) : withCurve;
    const caption = lines === withCurve ? 'Held-out loss against training tokens, one line per run; lower is better.' : 'Held-out loss against training tokens, one line per variant (the mean over its seeds); lower is better.';
    const chart = withCurve.length > 0 ? chartFigure('heldout-loss', await renderChartSvg(heldoutLossSpec(lines), 'chart-heldout-loss'), caption) : html`<p class="note">No held-out evaluation has been logged yet (train.evalEvery).</p>`;
    const withSteps = models.filter((m) => m.steps.some((x) => x.loss !== null));
    const stepLines = withSteps.some((m) => /-seed\d+$/.test(m.name)) ? seedMeans(withSteps) : withSteps;
    const trainChart = withSteps.length > 0
      ? chartFigure('training-loss', await renderChartSvg(trainingLossSpec(stepLines), 'chart-training-loss'), 'Training loss against training tokens, one line per run (every train.logEvery steps). SBP and the oracle train on different data than the baseline, so compare their held-out curves above, not these.')
      : null;
    let k = 0;
    const colors = new Map(models.map((m) => [m.name, runColor(m.name, m.name in RUN_COLORS || /^(baseline|oracle)(-seed\d+)?$/.test(m.name) ? 0 : k++)]));
    const rows = models.map((m) => {
      const last = m.evals.at(-1);
      const lastStep = [...m.steps].reverse().find((s) => s.loss !== null);
      const st = m.stats ?? {};
      return [
        html`<span class="swatch" style="background:${colors.get(m.name)!}"></span>${m.name}`,
        m.finished ? 'finished' : 'running or interrupted',
        formatNumber(typeof st.numParams === 'number' ? st.numParams : null),
        formatNumber(typeof st.tokens === 'number' ? st.tokens : (lastStep?.tokens ?? null)),
        formatNumber(lastStep?.loss ?? null),
        formatNumber(last?.heldoutLoss ?? null),
        formatNumber(last ? Math.exp(last.heldoutLoss) : null),
      ] as HtmlValue[];
    });
    body = html`${chart}${trainChart}${table(['run', 'status', 'parameters', 'tokens trained', 'last training loss', 'held-out loss', 'held-out perplexity'], rows)}${perplexityNote(run, models)}`;
  }
  return {
    id: 'training',
    title: 'Held-out loss during training',
    explain: html`Every run of the plan on one chart (the baseline, SBP and the oracle, and any control arms). All see the same number of tokens, so at any point on the x-axis they have spent the same compute. With few unique tokens the baseline's held-out loss flattens (or rises) once it starts repeating its data; the oracle, with fresh data all along, keeps falling. SBP sits between them: where its line ends relative to the other two is the experiment's answer. SBP may start behind the baseline, because synthetic text is harder to fit early on.`,
    body,
    missing: 'Run `sbp train` for the baseline, SBP and oracle runs (or `sbp experiment`).',
  };
}

// ---- results ----

function cell(e: EstimateCell | undefined, signed = false): SafeHtml {
  if (!e) return html`—`;
  const f = signed ? formatSigned : formatNumber;
  return html`${f(e.value)}${e.ci ? html`<span class="ci">[${f(e.ci.lo)}, ${f(e.ci.hi)}]</span>` : null}`;
}

function fractionCell(fr: ComparisonRow['fraction'], sbpGain?: EstimateCell, oracleGain?: EstimateCell): SafeHtml {
  const gains = sbpGain && oracleGain ? html`<span class="dir">SBP gain ${formatSigned(sbpGain.value)} of oracle gain ${formatSigned(oracleGain.value)}</span>` : null;
  if (fr.value === null) return html`—${gains}`;
  const flag = fr.note && /unreliable|does not measure/.test(fr.note) ? html` <span class="tag drop">unreliable</span>` : null;
  return html`<strong>${formatPercent(fr.value, 0)}</strong>${flag}${fr.ci ? html`<span class="ci">[${formatPercent(fr.ci.lo, 0)}, ${formatPercent(fr.ci.hi, 0)}]</span>` : null}${gains}`;
}

/** A fraction eval flagged as not to be trusted: the oracle's gain within noise, or the oracle worse. */
function isUnreliable(c: ComparisonRow): boolean {
  return c.fraction.note !== null && /unreliable|does not measure/.test(c.fraction.note);
}

/** The models of the results table: the three roles first, then every other arm eval/ holds, in its order. */
function resultModels(models: string[]): string[] {
  const roles = ['baseline', 'sbp', 'oracle'];
  return [...roles.filter((r) => models.includes(r) || models.length === 0), ...models.filter((m) => !roles.includes(m))];
}

function modelHead(name: string): string {
  return name === 'sbp' ? 'SBP' : name;
}

export async function resultsSection(run: RunSnapshot): Promise<ReportSection> {
  const ev = run.eval;
  let body: SafeHtml | null = null;
  if (ev) {
    const level = ev.confidence !== null ? `${Math.round(ev.confidence * 100)}%` : '';
    if (ev.groups && ev.groups.length > 0) {
      body = await sweepResults(ev.groups, ev.models, ev.metrics, level);
    } else if (ev.comparison && ev.comparison.length > 0) {
      // One column per model eval/ holds (control arms too), then the fraction with its interval.
      const models = resultModels(ev.models);
      const rows = ev.comparison.map((c) => {
        const byRole: Record<string, EstimateCell> = { baseline: c.baseline, sbp: c.sbp, oracle: c.oracle };
        return [
          html`${c.metric}<span class="dir">${c.higherIsBetter ? 'higher is better' : 'lower is better'}</span>`,
          formatNumber(c.items),
          ...models.map((m) => cell(ev.metrics[c.metric]?.values[m] ?? byRole[m])),
          fractionCell(c.fraction, c.sbpGain, c.oracleGain),
        ] as HtmlValue[];
      });
      const notes = ev.comparison.filter((c) => c.fraction.note).map((c) => html`<li><strong>${c.metric}</strong>: ${c.fraction.note!}</li>`);
      // A fraction flagged unreliable (the oracle's gain within noise, or the oracle worse) is no bar:
      // dividing by a gain near zero draws −900% where the honest answer is "unknown".
      const drawn = ev.comparison.filter((c) => c.fraction.value !== null && !isUnreliable(c));
      const left = ev.comparison.filter((c) => c.fraction.value !== null && isUnreliable(c)).map((c) => c.metric);
      const fr = drawn.map((c) => ({ metric: c.metric, fraction: c.fraction.value!, lo: c.fraction.ci?.lo ?? null, hi: c.fraction.ci?.hi ?? null }));
      const caption = `Fraction of oracle gain per metric${level ? `, with ${level} intervals` : ''}; dashed lines at 0% and 100%.${left.length > 0 ? ` Not drawn, because the fraction is unreliable (see the notes above): ${left.join(', ')}.` : ''}`;
      const chart = fr.length > 0 ? chartFigure('oracle-fraction', await renderChartSvg(fractionOfOracleGainSpec(fr), 'chart-oracle-fraction'), caption) : left.length > 0 ? html`<p class="note">${caption}</p>` : null;
      body = html`${table(['metric', 'items', ...models.map(modelHead), 'fraction of oracle gain'], rows, 'results')}${level ? html`<p class="note">Brackets are ${level} paired-bootstrap intervals over the evaluation items. Under each fraction: SBP's gain over the baseline and the oracle's (model − baseline; negative is better for lower-is-better metrics).</p>` : null}${notes.length > 0 ? html`<ul class="notes">${notes}</ul>` : null}${chart}`;
    } else {
      const models = ev.models;
      const rows = Object.entries(ev.metrics).map(([name, m]) => [html`${name}<span class="dir">${m.higherIsBetter ? 'higher is better' : 'lower is better'}</span>`, formatNumber(m.items), ...models.map((k) => cell(m.values[k]))] as HtmlValue[]);
      body = html`<p class="note">${ev.comparisonNote ?? 'No comparison: the fraction of oracle gain needs models labelled baseline, sbp and oracle.'}</p>${table(['metric', 'items', ...models], rows, 'results')}`;
    }
  }
  return {
    id: 'results',
    title: "Results: how much of the oracle's gain SBP recovers",
    explain: html`Each row is one evaluation metric of the three runs. <strong>SBP gain</strong> = SBP − baseline; <strong>oracle gain</strong> = oracle − baseline: what 20× more unique real data buys under the same compute. The <strong>fraction of oracle gain</strong> = SBP gain ÷ oracle gain says how much of that SBP obtains from synthetic data alone: 0% means the synthetic data did not help, 100% means it helped as much as the extra real data, a negative value means it hurt. For lower-is-better metrics (perplexity, bits per byte) both gains are negative when things improve, so the fraction reads the same way. The SBP paper reports 42–58% on question-answering accuracy at 3B–6B parameters.`,
    body,
    missing: 'Run `sbp eval` with models labelled baseline, sbp and oracle.',
  };
}

/** The sweep's variant table (fraction of oracle gain per variant, over seeds) and every run's values. */
async function sweepResults(groups: VariantGroup[], models: string[], metrics: NonNullable<RunSnapshot['eval']>['metrics'], level: string): Promise<SafeHtml> {
  const names = groups[0]!.metrics.map((m) => m.metric);
  const seeds = Math.max(...groups.map((g) => g.runs.length));
  const spread = (f: SeedSpread | null, ci: Interval | null, runs: number): SafeHtml => {
    if (!f) return html`—`;
    if (runs === 1) return html`<strong>${formatPercent(f.mean, 0)}</strong>${ci ? html`<span class="ci">[${formatPercent(ci.lo, 0)}, ${formatPercent(ci.hi, 0)}]</span>` : null}`;
    return html`<strong>${formatPercent(f.mean, 0)}</strong> ± ${f.sd !== null ? formatPercent(f.sd, 0) : '—'}<span class="ci">[${formatPercent(f.min, 0)}, ${formatPercent(f.max, 0)}]${f.n < runs ? ` ${f.n} of ${runs} seeds` : ''}</span>`;
  };
  const variantRows = groups.map((g) => [g.group, formatNumber(g.runs.length), ...g.metrics.map((m) => spread(m.fraction, m.ci, g.runs.length))] as HtmlValue[]);
  const head = (n: string) => html`${n}<span class="dir">${metrics[n]?.higherIsBetter ? 'higher is better' : 'lower is better'}</span>`;
  const variants = table(['variant', 'runs', ...names.map(head)], variantRows, 'results sweep');
  const how =
    seeds > 1
      ? 'Each SBP run is compared with the baseline and the oracle of its own seed; a cell is the mean fraction over the seeds ± its standard deviation, with the range over seeds in brackets.'
      : `Each SBP run is compared with the baseline and the oracle of its seed; brackets are ${level || 'bootstrap'} paired-bootstrap intervals over the evaluation items.`;
  const runRows = models.map((label) => [label, ...names.map((n) => cell(metrics[n]?.values[label]))] as HtmlValue[]);
  const fr = groups.flatMap((g) => {
    const m = g.metrics.find((x) => x.metric === 'heldout/ppl' && x.fraction !== null);
    return m ? [{ metric: g.group, fraction: m.fraction!.mean, lo: g.runs.length > 1 ? m.fraction!.min : (m.ci?.lo ?? null), hi: g.runs.length > 1 ? m.fraction!.max : (m.ci?.hi ?? null) }] : [];
  });
  const chart = fr.length > 0 ? chartFigure('oracle-fraction', await renderChartSvg(fractionOfOracleGainSpec(fr), 'chart-oracle-fraction'), `Fraction of oracle gain on heldout/ppl per variant${seeds > 1 ? ', mean over seeds, with the range over seeds' : ''}; dashed lines at 0% and 100%.`) : null;
  return html`<h3>Fraction of oracle gain per variant</h3>${variants}<p class="note">${how} Notes on single runs (an oracle within noise, an undefined fraction) are in <code>eval/comparison.json</code>.</p>${chart}<h3>Every run</h3>${table(['run', ...names.map(head)], runRows, 'results')}`;
}

/** One line for the top of the report: the first comparable metric's fraction of oracle gain. */
export function headline(run: RunSnapshot): SafeHtml | null {
  const groups = run.eval?.groups ?? [];
  if (groups.length > 0) {
    const best = groups
      .map((g) => ({ g, m: g.metrics.find((m) => m.metric === 'heldout/ppl' && m.fraction !== null) }))
      .filter((x): x is { g: VariantGroup; m: VariantGroup['metrics'][number] } => x.m !== undefined)
      .sort((a, b) => b.m.fraction!.mean - a.m.fraction!.mean)[0];
    if (!best) return null;
    return html`<p class="headline">A sweep of ${groups.length} SBP variants. On <strong>heldout/ppl</strong>, the best, <strong>${best.g.group}</strong>, recovers <strong>${formatPercent(best.m.fraction!.mean, 0)}</strong>${best.g.runs.length > 1 ? ` (mean over ${best.m.fraction!.n} seeds, ${formatPercent(best.m.fraction!.min, 0)} to ${formatPercent(best.m.fraction!.max, 0)})` : ''} of the gain the oracle gets from more real data.</p>`;
  }
  const rows = run.eval?.comparison ?? [];
  const main = rows.find((r) => r.metric === 'heldout/ppl' && r.fraction.value !== null) ?? rows.find((r) => r.fraction.value !== null);
  if (!main) return null;
  const ci: Interval | null = main.fraction.ci;
  return html`<p class="headline">On <strong>${main.metric}</strong>, SBP recovers <strong>${formatPercent(main.fraction.value, 0)}</strong>${ci ? ` (${formatPercent(ci.lo, 0)} to ${formatPercent(ci.hi, 0)})` : ''} of the gain the oracle gets from 20× more real data: baseline ${formatNumber(main.baseline.value)}, SBP ${formatNumber(main.sbp.value)}, oracle ${formatNumber(main.oracle.value)}.</p>${controlHeadline(run, main.metric)}`;
}

/** SBP − each control on the headline metric: whether SBP beats what sampled text alone, or random pairs, give. */
function controlHeadline(run: RunSnapshot, metric: string): SafeHtml | null {
  const rows = (run.eval?.controls ?? []).flatMap((c) => {
    const d = c.metrics.find((m) => m.metric === metric);
    return d ? [[html`SBP − ${c.control}`, cell(d.difference, true)] as HtmlValue[]] : [];
  });
  if (rows.length === 0) return null;
  const lower = (run.eval?.controls?.[0]?.metrics.find((m) => m.metric === metric)?.higherIsBetter ?? false) ? 'a positive' : 'a negative';
  return html`${table([`${metric}`, 'difference [paired-bootstrap interval]'], rows, 'results controls')}<p class="note">Each control is compute-matched like SBP (same seed, same S). ${lower} difference favours SBP; an interval that contains 0 means SBP is not distinguishable from the control.</p>`;
}

// ---- quality ----

/** Rates (0..1) print as percentages; the quality file names them so. */
function isRateKey(key: string): boolean {
  return /(rate|fraction|share|ratio)$/i.test(key);
}

/** Columns of synth/quality.json in display order: rates measured on each kind of document. */
const QUALITY_COLUMNS: Array<[key: string, label: string]> = [
  ['generated', 'sampled (before filters)'],
  ['kept', 'synthetic corpus (kept)'],
  ['synthetic', 'synthetic'],
  ['real', 'real documents'],
];

export function qualitySection(run: RunSnapshot): ReportSection {
  const q = run.synth?.quality ?? null;
  let body: SafeHtml | null = null;
  if (q) {
    const cols = QUALITY_COLUMNS.filter(([k]) => q[k] !== null && typeof q[k] === 'object');
    if (cols.length > 0) {
      const numeric = (o: unknown) => new Map(flattenRaw((o ?? {}) as Record<string, unknown>).filter(([, v]) => typeof v === 'number') as Array<[string, number]>);
      const values = cols.map(([k]) => numeric(q[k]));
      // real documents have no seed of their own: their pair measures come from mined pairs (d2 against d1)
      const realPairs = q.realPairs as { pairCopyingRate?: unknown } | undefined;
      const realCol = cols.findIndex(([k]) => k === 'real');
      if (realCol >= 0 && typeof realPairs?.pairCopyingRate === 'number' && !values[realCol]!.has('pairCopyingRate')) values[realCol]!.set('pairCopyingRate', realPairs.pairCopyingRate);
      const judge = q.judge as { kept?: unknown; real?: unknown } | undefined;
      if (judge) {
        cols.forEach(([k], i) => {
          const v = (judge as Record<string, unknown>)[k];
          if (typeof v === 'number') values[i]!.set('nonFactualRate (LLM judge)', v);
        });
      }
      const keys = [...new Set(values.flatMap((m) => [...m.keys()]))].filter((k) => k !== 'docs');
      const show = (k: string, v: number | undefined) => (v === undefined ? '—' : isRateKey(k.replace(/ \(.*\)$/, '')) ? formatPercent(v, 2) : formatNumber(v));
      const docsRow = values.some((m) => m.has('docs')) ? [['documents measured', ...values.map((m) => formatNumber(m.get('docs')))] as HtmlValue[]] : [];
      const rest = Object.fromEntries(Object.entries(q).filter(([k]) => !QUALITY_COLUMNS.some(([c]) => c === k) && k !== 'realPairs' && k !== 'judge'));
      body = html`${table(['measure', ...cols.map(([, label]) => label)], [...docsRow, ...keys.map((k) => [k, ...values.map((m) => show(k, m.get(k)))] as HtmlValue[])], 'quality')}${
        Object.keys(rest).length > 0 ? html`<h3>How it was measured</h3>${keyValueTable(rest, { maxDepth: 3 })}` : null
      }`;
    } else {
      body = keyValueTable(q, { maxDepth: 3 });
    }
  }
  return {
    id: 'quality',
    title: 'Quality of the synthetic documents',
    explain: html`The same rule-based measures on the synthetic documents (as sampled, and as kept by the filters) and on as many real documents, so every number has a reference; lower is better for all rates. <em>Repetition</em>: documents with heavily repeated lines or n-grams. <em>Duplicates</em>: documents identical to another one. <em>Pair-copying</em>: synthetic documents sharing long passages with their seed (for real documents: a mined pair's d2 with its d1). <em>Pair-irrelevance</em>: synthetic documents whose embedding is far from their seed's (the synthesizer wrote about something else). The SBP paper, judging with an LLM, found 2.6–4.3% repetition (real data 1.8%) and 6–26% irrelevance.`,
    body,
    missing: 'Run `sbp synthesize`; it writes synth/quality.json.',
  };
}

function flattenRaw(value: Record<string, unknown>, prefix = ''): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (const [k, v] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) out.push(...flattenRaw(v as Record<string, unknown>, path));
    else out.push([path, v]);
  }
  return out;
}

export type { ModelRun };

/** Shown above the pairs, synthesizer and synthesis of a sweep over α: which α they belong to. */
function alphaNote(run: RunSnapshot): SafeHtml | null {
  return run.sweep?.alphaNote ? html`<p class="note">${run.sweep.alphaNote}</p>` : null;
}

/** One curve per variant: the runs named `<variant>-seed<n>`, their held-out losses averaged at each point they share. */
function seedMeans(models: ModelRun[]): ModelRun[] {
  const groups = new Map<string, ModelRun[]>();
  for (const m of models) {
    const g = m.name.replace(/-seed\d+$/, '');
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g)!.push(m);
  }
  return [...groups].map(([name, runs]) => {
    const at = new Map<number, { step: number; sum: number; n: number }>();
    for (const r of runs) {
      for (const e of r.evals) {
        const p = at.get(e.tokens) ?? { step: e.step, sum: 0, n: 0 };
        p.sum += e.heldoutLoss;
        p.n++;
        at.set(e.tokens, p);
      }
    }
    const evals = [...at].filter(([, p]) => p.n === runs.length).sort((a, b) => a[0] - b[0]).map(([tokens, p]) => ({ step: p.step, tokens, heldoutLoss: p.sum / p.n }));
    return { name, finished: runs.every((r) => r.finished), stats: null, steps: [], evals };
  });
}

/** U of the run's experiment (tokens of the real subset), from the plan or the run's record; null outside an experiment. */
function uniqueTokensOf(run: RunSnapshot): number | null {
  const fromPlan = (run.plan as { uniqueTokens?: unknown } | null)?.uniqueTokens;
  if (typeof fromPlan === 'number') return fromPlan;
  if (!run.plan) return null;
  const fromConfig = (run.config as { experiment?: { uniqueTokens?: unknown } } | null)?.experiment?.uniqueTokens;
  return typeof fromConfig === 'number' ? fromConfig : null;
}

function oracleFactorOf(run: RunSnapshot): number {
  const f = (run.config as { experiment?: { oracleFactor?: unknown } } | null)?.experiment?.oracleFactor;
  return typeof f === 'number' ? f : 20;
}

/**
 * Why the training table's held-out perplexity and `sbp eval`'s heldout/ppl differ, next to the
 * table, with both numbers for each run that has both (they score different token sets).
 */
function perplexityNote(run: RunSnapshot, models: ModelRun[]): SafeHtml | null {
  const evalPpl = run.eval?.metrics['heldout/ppl'];
  const pairs = models.flatMap((m) => {
    const last = m.evals.at(-1);
    const e = evalPpl?.values[m.name];
    return last && e ? [`${m.name} ${formatNumber(Math.exp(last.heldoutLoss))} here, ${formatNumber(e.value)} in the results`] : [];
  });
  const cfg = run.config as { train?: { evalTokens?: unknown; seqLen?: unknown }; eval?: { window?: unknown; maxDocs?: unknown } } | null;
  const n = (v: unknown, unit: string) => (typeof v === 'number' ? `${formatNumber(v)} ${unit}` : unit);
  return html`<p class="note">The held-out loss and perplexity here are the trainer's: the first ${n(cfg?.train?.evalTokens, 'tokens')} (<code>train.evalTokens</code>) of the held-out split, packed into rows of <code>train.seqLen</code> (${n(cfg?.train?.seqLen, 'tokens')}) across document boundaries. The results below use <code>sbp eval</code>'s <code>heldout/ppl</code>: up to ${n(cfg?.eval?.maxDocs, 'whole held-out documents')} (<code>eval.maxDocs</code>), each scored from its start with a window of <code>eval.window</code> (${n(cfg?.eval?.window, 'tokens')}). Different tokens, so the two perplexities differ${pairs.length > 0 ? ` (${pairs.join('; ')})` : ''}; compare runs within one of them.</p>`;
}

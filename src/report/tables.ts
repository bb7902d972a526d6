import { html, type HtmlValue, type SafeHtml } from './html.js';

/** A number for people: integers with thousands separators, others with 4 significant digits. */
export function formatNumber(x: number | null | undefined): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '—';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '−∞';
  if (Math.abs(x) >= 1e10) return x.toExponential(2); // FLOPs: digits past the third mean nothing
  if (Number.isInteger(x)) return x.toLocaleString('en-US');
  const a = Math.abs(x);
  if (a >= 1000) return x.toLocaleString('en-US', { maximumFractionDigits: 1 });
  if (a >= 0.001) return String(Number(x.toPrecision(4)));
  return x.toExponential(2);
}

/** A signed difference: "+0.123" / "−0.123". */
export function formatSigned(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return formatNumber(x);
  const s = formatNumber(Math.abs(x));
  return x > 0 ? `+${s}` : x < 0 ? `−${s}` : s;
}

export function formatPercent(x: number | null | undefined, digits = 1): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  return `${(100 * x).toFixed(digits)}%`;
}

/** A table from a header row and body rows; cells are text (escaped) or safe fragments. */
export function table(head: HtmlValue[], rows: HtmlValue[][], cls = ''): SafeHtml {
  return html`<div class="table-wrap"><table class="${cls}"><thead><tr>${head.map((h) => html`<th>${h}</th>`)}</tr></thead><tbody>${rows.map(
    (r) => html`<tr>${r.map((c) => html`<td>${c}</td>`)}</tr>`,
  )}</tbody></table></div>`;
}

/** Scalar leaves of a JSON value as [dotted path, value] rows; long arrays are summarised by their length. */
export function flattenScalars(value: unknown, opts: { skip?: string[]; maxDepth?: number } = {}): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const skip = new Set(opts.skip ?? []);
  const maxDepth = opts.maxDepth ?? 4;
  const walk = (v: unknown, path: string, depth: number) => {
    if (v === null || v === undefined) out.push([path, '—']);
    else if (typeof v === 'number') out.push([path, formatNumber(v)]);
    else if (typeof v === 'string') out.push([path, v]);
    else if (typeof v === 'boolean') out.push([path, v ? 'yes' : 'no']);
    else if (Array.isArray(v)) {
      if (v.length <= 6 && v.every((x) => x === null || typeof x !== 'object')) out.push([path, v.map((x) => (typeof x === 'number' ? formatNumber(x) : String(x))).join(', ')]);
      else out.push([path, `[${v.length} values]`]);
    } else if (typeof v === 'object') {
      if (depth >= maxDepth) {
        out.push([path, '{…}']);
        return;
      }
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (skip.has(k)) continue;
        walk(x, path ? `${path}.${k}` : k, depth + 1);
      }
    }
  };
  walk(value, '', 0);
  return out;
}

/** A two-column table of an object's scalar leaves. */
export function keyValueTable(value: unknown, opts: { skip?: string[]; maxDepth?: number } = {}): SafeHtml {
  return table(['field', 'value'], flattenScalars(value, opts), 'kv');
}

import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { trustedHtml, type SafeHtml } from './html.js';

/** Look shared by every chart: the page's font, quiet axes, no outer frame. */
const CHART_CONFIG = {
  font: 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 600, gridColor: '#e6e6e6', domainColor: '#888', tickColor: '#888' },
  legend: { labelFontSize: 11, titleFontSize: 12, orient: 'bottom', labelLimit: 360 },
  title: { fontSize: 13, anchor: 'start' },
} as const;

/**
 * Compiles a Vega-Lite spec and renders it to SVG in Node (no browser, no canvas: the headless
 * `renderer: 'none'` view). The SVG is made safe to inline several times in one page: its ids get
 * the chart's own prefix (otherwise two charts' clip paths would resolve to the first one in the
 * document), and the namespace attributes an HTML parser does not need are dropped, so the page
 * holds no URL at all.
 */
export async function renderChartSvg(spec: TopLevelSpec, chartId: string): Promise<SafeHtml> {
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(chartId)) throw new Error(`chart id "${chartId}" must be a letter then letters, digits, _ or -`);
  const withConfig = { ...spec, config: { ...CHART_CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec;
  const view = new View(parse(compile(withConfig).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return trustedHtml(inlineSvg(svg, chartId));
  } finally {
    view.finalize();
  }
}

/** Prefixes ids and their references with the chart id and strips namespace declarations. */
export function inlineSvg(svg: string, chartId: string): string {
  return svg
    .replace(/\s+xmlns(:xlink)?="[^"]*"/g, '')
    .replace(/\bid="([^"]+)"/g, (_m, id: string) => `id="${chartId}-${id}"`)
    .replace(/url\(#([^)]+)\)/g, (_m, id: string) => `url(#${chartId}-${id})`)
    .replace(/\b(xlink:)?href="#([^"]+)"/g, (_m, ns: string | undefined, id: string) => `${ns ?? ''}href="#${chartId}-${id}"`)
    .replace(/^<svg\b/, `<svg id="${chartId}" role="img"`);
}

/** The report's whole stylesheet, inlined: system fonts only, so the file needs nothing from outside. */
export const REPORT_CSS = `
:root { --ink: #1d1d1f; --muted: #5f6368; --rule: #e3e3e3; --panel: #f7f7f8; --accent: #1f77b4; --warn: #b3261e; }
* { box-sizing: border-box; }
html { font-size: 16px; -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--ink); background: #fff; font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; line-height: 1.55; }
main { max-width: 1180px; margin: 0 auto; padding: 2rem 1.5rem 4rem; }
header h1 { font-size: 1.9rem; line-height: 1.2; margin: 0 0 .3rem; }
header .sub { color: var(--muted); margin: 0 0 1rem; }
.headline { font-size: 1.15rem; background: #eef5fb; border-left: 4px solid var(--accent); padding: .75rem 1rem; margin: 1rem 0; }
nav.toc { background: var(--panel); border: 1px solid var(--rule); border-radius: 6px; padding: .6rem 1rem; margin: 1.2rem 0 1.5rem; }
nav.toc ol { margin: 0; padding-left: 1.3rem; columns: 2; }
nav.toc a { color: var(--accent); text-decoration: none; }
nav.toc .state { color: var(--muted); font-size: .85rem; }
section { border-top: 1px solid var(--rule); padding-top: 1.2rem; margin-top: 2rem; }
h2 { font-size: 1.4rem; margin: 0 0 .4rem; }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
p.explain { color: #333; max-width: 46rem; margin: .2rem 0 1rem; }
p.note { color: var(--muted); font-size: .9rem; margin: .4rem 0 .8rem; }
p.missing { background: #fff8e6; border: 1px solid #f0d58c; border-radius: 6px; padding: .6rem .9rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: .9em; background: var(--panel); padding: .05rem .3rem; border-radius: 3px; }
.table-wrap { overflow-x: auto; margin: .5rem 0 .8rem; }
table { border-collapse: collapse; font-size: .9rem; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .3rem .7rem .3rem 0; border-bottom: 1px solid var(--rule); vertical-align: top; }
th { font-weight: 600; border-bottom: 2px solid #ccc; white-space: nowrap; }
table.kv td:first-child { color: var(--muted); font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85rem; }
table.results td:nth-child(n+3) { white-space: nowrap; }
table.results th { white-space: normal; }
table.results td:last-child .dir { white-space: normal; max-width: 13rem; }
.ci { display: block; color: var(--muted); font-size: .78rem; }
.dir { display: block; color: var(--muted); font-size: .75rem; }
ul.notes { font-size: .88rem; color: var(--muted); }
figure.chart { margin: 1rem 0 1.2rem; }
figure.chart svg { display: block; max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: .88rem; margin-top: .3rem; }
.swatch { display: inline-block; width: .8rem; height: .8rem; border-radius: 2px; margin-right: .4rem; vertical-align: -1px; }
.pair { border: 1px solid var(--rule); border-radius: 6px; margin: .8rem 0; overflow: hidden; }
.pair.dropped { border-color: #f0b4ae; }
.pair-head { background: var(--panel); padding: .35rem .8rem; font-size: .85rem; color: var(--muted); overflow-wrap: anywhere; }
.side-by-side { display: grid; grid-template-columns: 1fr 1fr; }
.side-by-side > div { padding: .5rem .8rem; min-width: 0; }
.side-by-side > div + div { border-left: 1px solid var(--rule); }
.doc-label { font-size: .78rem; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; margin-bottom: .2rem; overflow-wrap: anywhere; }
.doc { white-space: pre-wrap; overflow-wrap: anywhere; font-family: Georgia, "Times New Roman", serif; font-size: .92rem; line-height: 1.5; max-height: 22rem; overflow-y: auto; }
.missing-doc { color: var(--muted); font-style: italic; }
.tag { font-size: .72rem; padding: .05rem .35rem; border-radius: 3px; }
.tag.drop { background: #fde7e4; color: var(--warn); }
details { margin-top: 1rem; }
details pre { background: var(--panel); padding: .8rem; overflow-x: auto; font-size: .8rem; }
footer { color: var(--muted); font-size: .8rem; margin-top: 3rem; border-top: 1px solid var(--rule); padding-top: .8rem; }
@media (max-width: 700px) { .side-by-side { grid-template-columns: 1fr; } .side-by-side > div + div { border-left: none; border-top: 1px solid var(--rule); } nav.toc ol { columns: 1; } }
@media print { nav.toc { display: none; } .doc { max-height: none; } }
`;

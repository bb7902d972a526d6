/**
 * HTML built by construction: `html` is a tagged template that escapes every interpolated value
 * unless it is already `SafeHtml`, so text from the run (document text, ids, model names) can never
 * become markup. Only the report's own templates and the rendered chart SVG are marked safe.
 */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for use in element content and in quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** A value allowed inside `html`: text (escaped), numbers, safe fragments, lists of them; null/undefined/false print nothing. */
export type HtmlValue = string | number | SafeHtml | null | undefined | false | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  if (typeof value === 'number') return escapeHtml(String(value));
  return escapeHtml(value as string);
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Marks trusted markup (the report's CSS, rendered SVG) as safe. Never call it on run data. */
export function trustedHtml(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

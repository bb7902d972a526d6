/**
 * Progress for long work: a one-line bar with rate and ETA on a TTY, plain log lines (at most one
 * every `logEverySec`) otherwise, so CI logs and `| tee` stay readable. Hand-written rather than a
 * dependency because it must also drive the plain-line mode and report in domain units (docs,
 * tokens, bytes) with the same code.
 */
export interface ProgressOptions {
  label: string;
  total?: number; // in `unit`s; unknown when streaming
  unit?: string; // e.g. 'docs', 'tok', 'B'
  stream?: NodeJS.WriteStream;
  logEverySec?: number;
  quiet?: boolean;
}

export class Progress {
  private done = 0;
  private readonly t0 = Date.now();
  private lastDraw = 0;
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private extra = '';

  constructor(private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY);
  }

  /** Sets the known total later (e.g. after a first pass). */
  setTotal(total: number): void {
    this.opts.total = total;
  }

  add(n: number, extra?: string): void {
    this.done += n;
    if (extra !== undefined) this.extra = extra;
    this.maybeDraw(false);
  }

  set(done: number, extra?: string): void {
    this.done = done;
    if (extra !== undefined) this.extra = extra;
    this.maybeDraw(false);
  }

  finish(extra?: string): void {
    if (extra !== undefined) this.extra = extra;
    this.maybeDraw(true);
    if (this.tty && !this.opts.quiet) this.stream.write('\n');
  }

  private maybeDraw(force: boolean): void {
    if (this.opts.quiet) return;
    const now = Date.now();
    const every = this.tty ? 100 : (this.opts.logEverySec ?? 10) * 1000;
    if (!force && now - this.lastDraw < every) return;
    this.lastDraw = now;
    const line = this.render(now);
    if (this.tty) this.stream.write(`\r\x1b[2K${line}`);
    else this.stream.write(`${line}\n`);
  }

  private render(now: number): string {
    const sec = Math.max((now - this.t0) / 1000, 1e-3);
    const rate = this.done / sec;
    const unit = this.opts.unit ?? 'it';
    const total = this.opts.total;
    let s = `${this.opts.label} `;
    if (total && total > 0) {
      const frac = Math.min(this.done / total, 1);
      const width = 24;
      const filled = Math.round(frac * width);
      const eta = rate > 0 ? (total - this.done) / rate : Infinity;
      s += `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(1)}% `;
      s += `${formatCount(this.done)}/${formatCount(total)} ${unit} ${formatCount(rate)} ${unit}/s ETA ${formatDuration(eta)}`;
    } else {
      s += `${formatCount(this.done)} ${unit} ${formatCount(rate)} ${unit}/s ${formatDuration(sec)}`;
    }
    if (this.extra) s += ` ${this.extra}`;
    return s;
  }
}

export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '?';
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec)) return '?';
  if (sec < 60) return `${sec.toFixed(0)}s`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m${String(Math.floor(sec % 60)).padStart(2, '0')}s`;
  return `${Math.floor(sec / 3600)}h${String(Math.floor((sec % 3600) / 60)).padStart(2, '0')}m`;
}

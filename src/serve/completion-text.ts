/**
 * The text of one completion as its tokens arrive: bytes are decoded incrementally (a token may end
 * inside a multi-byte UTF-8 character, which is held until the character is complete) and stop
 * strings are searched in the decoded text. Text that could still turn out to be the start of a stop
 * string is held back, so what has been streamed never has to be taken back; the stop string itself
 * is never part of the output (OpenAI semantics).
 */
export class CompletionText {
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  private held = ''; // decoded, not yet emitted
  private done = false;

  constructor(
    private readonly bytesOf: (token: number) => Uint8Array,
    private readonly stops: readonly string[],
  ) {
    for (const s of stops) if (s.length === 0) throw new RangeError('stop strings must not be empty');
  }

  /** Feeds one generated token; returns the text now safe to emit and whether a stop string ended the completion. */
  push(token: number): { delta: string; stopped: boolean } {
    if (this.done) throw new Error('CompletionText: push after the completion ended');
    this.held += this.decoder.decode(this.bytesOf(token), { stream: true });
    return this.release(false);
  }

  /** The completion ended (stop token or length): everything still held, the stop check applied once more. */
  finish(): string {
    if (this.done) return '';
    this.held += this.decoder.decode();
    return this.release(true).delta;
  }

  private release(final: boolean): { delta: string; stopped: boolean } {
    let at = -1;
    for (const s of this.stops) {
      const i = this.held.indexOf(s);
      if (i >= 0 && (at < 0 || i < at)) at = i;
    }
    if (at >= 0) {
      const delta = this.held.slice(0, at);
      this.held = '';
      this.done = true;
      return { delta, stopped: true };
    }
    const keep = final ? 0 : this.longestStopPrefixSuffix();
    const delta = this.held.slice(0, this.held.length - keep);
    this.held = this.held.slice(this.held.length - keep);
    if (final) this.done = true;
    return { delta, stopped: false };
  }

  /** Length of the longest suffix of `held` that is a proper prefix of some stop string. */
  private longestStopPrefixSuffix(): number {
    let best = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, this.held.length); k > best; k--) {
        if (this.held.endsWith(s.slice(0, k))) {
          best = k;
          break;
        }
      }
    }
    return best;
  }
}

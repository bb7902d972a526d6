import { LlamaKVCache } from '../model/kv-cache.js';
import type { LlamaModel } from '../model/llama.js';
import { LogitsSampler, type SamplingOptions } from '../sample/logits-sampler.js';
import { Rng } from '../sample/rng.js';
import { CompletionText } from './completion-text.js';
import { KVSlots } from './kv-slots.js';
import { RowLogSumExp, tokenLogprob, type TokenLogprob } from './token-logprobs.js';

export type FinishReason = 'stop' | 'length';

/** One sequence to generate: a prompt, its sampling parameters and when to stop. */
export interface SequenceSpec {
  id: number; // unique among live sequences
  prompt: Int32Array; // (P) model input ids, bos included
  maxTokens: number; // new tokens, at most (0: only the prompt, scored when promptLogprobs is set)
  sampling: SamplingOptions;
  logprobs?: number | null; // null (default): none; N: each drawn token's log-probability and the N most likely alternatives
  promptLogprobs?: boolean; // also score every prompt token after the first (with the same N; needs logprobs)
  seed: readonly number[]; // seed of this sequence's own random stream
  stopTokens: readonly number[]; // drawing one ends the sequence (not part of the output); usually [eos]
  stop: readonly string[]; // stop strings, searched in the decoded text
}

/** What happened to one sequence during a step. */
export interface SequenceEvent {
  id: number;
  text: string; // newly decoded text (may be empty when finishing)
  tokens: number; // tokens generated so far (the one that completed a stop string included)
  finishReason: FinishReason | null;
  logprobs?: TokenLogprob[]; // with spec.logprobs: the token drawn in this step (none when it was a stop token)
  promptLogprobs?: Array<TokenLogprob | null>; // with spec.promptLogprobs, on the sequence's first event: one per prompt token, null for the first
}

export interface StepReport {
  batchSize: number; // sequences that drew a token in this step
  admitted: number; // sequences that joined in this step
  events: SequenceEvent[];
}

interface Sequence {
  spec: SequenceSpec;
  slot: number;
  rng: Rng;
  sampler: LogitsSampler;
  text: CompletionText;
  generated: number;
  lastToken: number;
  logits: Float32Array; // (V) logits of the last fed position
  promptLogprobs: Array<TokenLogprob | null> | null; // scored at prefill, sent with the first event
}

/**
 * Continuous batching over one model: sequences queue up, join the running batch at step boundaries
 * (up to `maxBatch` at a time) and leave it as soon as they finish, so a long generation never holds
 * up a short one. One `step()`:
 *   1. admits queued sequences into free cache slots and prefills their prompts — identical prompts
 *      (the n choices of one request) once, prompts of equal length together in one causal pass;
 *   2. draws one token for every running sequence from its own random stream, seeded per sequence, so
 *      what a sequence generates does not depend on which others share its batch;
 *   3. feeds the drawn tokens back through the KV cache in one decode pass.
 * A sequence that asks for logprobs gets each drawn token's log-probability (of the raw logits,
 * before temperature and top-k/top-p); one that also scores its prompt gets every prompt token's
 * from a pass that keeps all positions' logits. A sequence of at most one token never feeds one
 * back, so it takes no cache slot and leaves in the step it joins.
 * Synchronous and single-threaded: the server runs it on a worker thread.
 */
export class ContinuousBatcher {
  private readonly queue: Sequence[] = [];
  private readonly running: Sequence[] = [];
  private readonly slots: KVSlots;
  private readonly V: number;
  private readonly lse: RowLogSumExp;
  private scratch = new Float32Array(0); // (R, V) rows of drawn tokens' logits, for their log-sum-exp

  /**
   * `prefillTokens` bounds the prompt tokens prefilled in one step (distinct prompts counted once; a
   * step always admits at least one sequence), so a burst of long prompts delays the running
   * sequences' next tokens by a bounded amount instead of by all of them at once.
   */
  constructor(
    private readonly model: LlamaModel,
    private readonly bytesOf: (token: number) => Uint8Array,
    readonly maxBatch: number,
    readonly prefillTokens: number = Infinity,
  ) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`);
    if (!(prefillTokens >= 1)) throw new RangeError(`prefillTokens must be at least 1, got ${prefillTokens}`);
    this.slots = new KVSlots(model, maxBatch);
    this.V = model.config.vocabSize;
    this.lse = new RowLogSumExp(model.backend, this.V);
  }

  get runningCount(): number {
    return this.running.length;
  }

  get queuedCount(): number {
    return this.queue.length;
  }

  get idle(): boolean {
    return this.running.length === 0 && this.queue.length === 0;
  }

  /** Positions of the model's context a spec needs: the prompt, and the drawn tokens but the last, which is never fed back. */
  static positionsNeeded(spec: Pick<SequenceSpec, 'prompt' | 'maxTokens'>): number {
    return spec.prompt.length + Math.max(0, spec.maxTokens - 1);
  }

  submit(spec: SequenceSpec): void {
    const { vocabSize, maxSeqLen } = this.model.config;
    if (spec.prompt.length < 1) throw new RangeError(`sequence ${spec.id}: empty prompt`);
    if (!Number.isInteger(spec.maxTokens) || spec.maxTokens < 0) throw new RangeError(`sequence ${spec.id}: maxTokens ${spec.maxTokens} < 0`);
    if (spec.logprobs != null && !(Number.isInteger(spec.logprobs) && spec.logprobs >= 0)) throw new RangeError(`sequence ${spec.id}: logprobs ${spec.logprobs} is not a whole number`);
    if (spec.promptLogprobs && spec.logprobs == null) throw new RangeError(`sequence ${spec.id}: promptLogprobs needs logprobs`);
    if (ContinuousBatcher.positionsNeeded(spec) > maxSeqLen) throw new RangeError(`sequence ${spec.id}: prompt ${spec.prompt.length} + maxTokens ${spec.maxTokens} exceed the context ${maxSeqLen}`);
    for (const t of spec.prompt) if (!(t >= 0 && t < vocabSize)) throw new RangeError(`sequence ${spec.id}: token ${t} outside [0, ${vocabSize})`);
    this.queue.push({
      spec,
      slot: -1,
      rng: new Rng(spec.seed),
      sampler: new LogitsSampler(vocabSize, spec.sampling),
      text: new CompletionText(this.bytesOf, spec.stop),
      generated: 0,
      lastToken: -1,
      logits: new Float32Array(0),
      promptLogprobs: null,
    });
  }

  /** Drops a queued or running sequence (its client went away); false when it is unknown. */
  cancel(id: number): boolean {
    const q = this.queue.findIndex((s) => s.spec.id === id);
    if (q >= 0) {
      this.queue.splice(q, 1);
      return true;
    }
    const r = this.running.findIndex((s) => s.spec.id === id);
    if (r < 0) return false;
    const slot = this.running[r]!.slot;
    if (slot >= 0) this.slots.release(slot);
    this.running.splice(r, 1);
    return true;
  }

  step(): StepReport {
    const admitted = this.admit();
    const events: SequenceEvent[] = [];
    const drawn = new Map<Sequence, number>();
    for (const seq of this.running) if (seq.spec.maxTokens > 0) drawn.set(seq, seq.sampler.sample(seq.logits, 0, seq.rng));
    const scores = this.drawnLogprobs(drawn);
    let batchSize = 0;
    for (const seq of [...this.running]) {
      const { spec } = seq;
      let finish: FinishReason | null = null;
      let text: string;
      let logprobs: TokenLogprob[] | undefined;
      if (spec.maxTokens === 0) {
        finish = 'length'; // only the prompt was asked for (and scored)
        text = seq.text.finish();
      } else {
        batchSize++;
        const tok = drawn.get(seq)!;
        if (spec.stopTokens.includes(tok)) {
          finish = 'stop';
          text = seq.text.finish();
          if (spec.logprobs != null) logprobs = []; // the stop token is not part of the completion
        } else {
          if (spec.logprobs != null) logprobs = [scores.get(seq)!];
          seq.generated++;
          seq.lastToken = tok;
          const r = seq.text.push(tok);
          text = r.delta;
          if (r.stopped) finish = 'stop';
          else if (seq.generated >= spec.maxTokens) {
            finish = 'length';
            text += seq.text.finish();
          }
        }
      }
      if (finish) this.cancel(spec.id);
      const e: SequenceEvent = { id: spec.id, text, tokens: seq.generated, finishReason: finish };
      if (logprobs) e.logprobs = logprobs;
      if (seq.promptLogprobs) {
        e.promptLogprobs = seq.promptLogprobs;
        seq.promptLogprobs = null;
      }
      if (finish || text.length > 0 || e.logprobs?.length || e.promptLogprobs) events.push(e);
    }
    this.shrink();
    if (this.running.length > 0) this.decode();
    return { batchSize, admitted, events };
  }

  /** Log-probabilities of the drawn tokens of the sequences that ask for them (a stop token ends a sequence unlisted). */
  private drawnLogprobs(drawn: Map<Sequence, number>): Map<Sequence, TokenLogprob> {
    const V = this.V;
    const rows = [...drawn].filter(([s, tok]) => s.spec.logprobs != null && !s.spec.stopTokens.includes(tok));
    const out = new Map<Sequence, TokenLogprob>();
    if (rows.length === 0) return out;
    if (this.scratch.length < rows.length * V) this.scratch = new Float32Array(rows.length * V);
    rows.forEach(([s], r) => this.scratch.set(s.logits, r * V));
    const lse = this.lse.of(this.scratch, rows.length);
    rows.forEach(([s, tok], r) => out.set(s, tokenLogprob(this.scratch, r * V, V, lse[r]!, tok, s.spec.logprobs!)));
    return out;
  }

  /** Moves queued sequences into free slots (growing the cache when needed) and prefills them. */
  private admit(): number {
    const room = this.maxBatch - this.running.length;
    const seen = new Set<string>();
    let take = 0;
    let tokens = 0;
    while (take < room && take < this.queue.length) {
      const p = this.queue[take]!.spec.prompt;
      const key = promptKey(p);
      const cost = seen.has(key) ? 0 : p.length;
      if (take > 0 && tokens + cost > this.prefillTokens) break;
      seen.add(key);
      tokens += cost;
      take++;
    }
    const joining = this.queue.splice(0, take);
    if (joining.length === 0) return 0;
    // Every running sequence holds a slot: one that needs none finishes in the step it joins.
    const cached = [...this.running, ...joining.filter(usesCache)];
    if (cached.length > this.running.length) {
      const width = Math.max(this.slots.width, this.slots.widthFor(cached.length));
      const capacity = Math.max(this.slots.capacity, this.slots.capacityFor(Math.max(...cached.map((s) => ContinuousBatcher.positionsNeeded(s.spec)))));
      if (width !== this.slots.width || capacity !== this.slots.capacity) {
        this.slots.resize(width, capacity, this.running.map((s) => s.slot));
        this.running.forEach((s, i) => (s.slot = i));
      }
      const used = new Set(this.running.map((s) => s.slot));
      let free = 0;
      for (const seq of joining) {
        if (!usesCache(seq)) continue;
        while (used.has(free)) free++;
        seq.slot = free++;
      }
    }
    this.running.push(...joining);
    this.prefill(joining);
    return joining.length;
  }

  /**
   * Runs each distinct prompt once, prompts of equal length together: a causal pass into a fresh
   * cache whose keys and values are copied into the slots of the sequences that go on decoding,
   * and, for prompts to be scored, a pass that keeps every position's logits. A prompt that is
   * both scored and continued past one token goes through both.
   */
  private prefill(joining: Sequence[]): void {
    const byPrompt = new Map<string, Sequence[]>();
    for (const seq of joining) {
      const key = promptKey(seq.spec.prompt);
      const list = byPrompt.get(key);
      if (list) list.push(seq);
      else byPrompt.set(key, [seq]);
    }
    const groups = [...byPrompt.values()];
    const scored = (g: Sequence[]) => g.some((s) => s.spec.promptLogprobs);
    const V = this.V;
    const drawing = (g: Sequence[]) => g.some((s) => s.spec.maxTokens > 0);
    for (const [L, same] of byLength(groups.filter((g) => g.some(usesCache) || (drawing(g) && !scored(g))))) {
      const k = same.length;
      const fresh = this.model.createKVCache(k, L);
      if (!(fresh instanceof LlamaKVCache)) throw new Error('prefill needs the LlamaKVCache layout');
      const tokens = new Int32Array(k * L); // (k, L)
      same.forEach((g, i) => tokens.set(g[0]!.spec.prompt, i * L));
      const logits = this.model.step(fresh, tokens, L); // (k, V)
      same.forEach((g, i) => {
        for (const seq of g) {
          if (seq.slot >= 0) this.slots.importSlot(fresh, i, seq.slot, L);
          seq.logits = logits.subarray(i * V, (i + 1) * V);
        }
      });
    }
    for (const [L, same] of byLength(groups.filter(scored))) {
      const rows = Math.max(1, Math.floor(SCORE_LOGITS / (L * V))); // prompts per pass
      for (let at = 0; at < same.length; at += rows) {
        const part = same.slice(at, at + rows);
        const k = part.length;
        const tokens = new Int32Array(k * L); // (k, L)
        part.forEach((g, i) => tokens.set(g[0]!.spec.prompt, i * L));
        const logits = this.model.logits(tokens, k, L); // (k·L, V)
        const lse = this.lse.of(logits, k * L); // (k·L)
        part.forEach((g, i) => {
          const prompt = g[0]!.spec.prompt;
          const topN = Math.max(...g.map((s) => s.spec.logprobs ?? 0));
          const lps: Array<TokenLogprob | null> = [null]; // nothing predicts the first token
          for (let t = 1; t < L; t++) lps.push(tokenLogprob(logits, (i * L + t - 1) * V, V, lse[i * L + t - 1]!, prompt[t]!, topN));
          const last = g.some(usesCache) ? null : logits.slice((i * L + L - 1) * V, (i * L + L) * V);
          for (const seq of g) {
            const n = seq.spec.logprobs ?? 0;
            if (seq.spec.promptLogprobs) seq.promptLogprobs = n === topN ? lps : lps.map((x) => x && { ...x, top: x.top.slice(0, n) });
            if (last) seq.logits = last;
          }
        });
      }
    }
  }

  /** Halves the cache (repeatedly) while at most a quarter of it runs; frees it when nothing does. */
  private shrink(): void {
    const n = this.running.length;
    const w = this.slots.width;
    if (n === 0 && this.queue.length === 0) {
      if (w > 1 || this.slots.capacity > this.slots.capacityFor(64)) this.slots.resize(1, this.slots.capacityFor(64), []);
      return;
    }
    if (w > 1 && n <= w / 4) {
      this.slots.resize(this.slots.widthFor(n), this.slots.capacity, this.running.map((s) => s.slot));
      this.running.forEach((s, i) => (s.slot = i));
    }
  }

  /** Feeds every running sequence's last drawn token (one decode pass over the cache width). */
  private decode(): void {
    const B = this.slots.width;
    const V = this.V;
    const next = new Int32Array(B); // (B, 1)
    const active = new Uint8Array(B);
    for (const seq of this.running) {
      next[seq.slot] = seq.lastToken;
      active[seq.slot] = 1;
    }
    const logits = this.model.step(this.slots.current, next, 1, active); // (B, V)
    for (const seq of this.running) seq.logits = logits.subarray(seq.slot * V, (seq.slot + 1) * V);
  }
}

/** Logits kept by one prompt-scoring pass, at most (k·L·V floats; at least one prompt per pass): 128 MiB. */
const SCORE_LOGITS = 1 << 25;

/** Only a sequence that feeds a drawn token back needs a slot of the KV cache. */
function usesCache(seq: Sequence): boolean {
  return seq.spec.maxTokens > 1;
}

function promptKey(prompt: Int32Array): string {
  return prompt.join(',');
}

/** Prompt groups (sequences sharing one prompt) by prompt length. */
function byLength(groups: Sequence[][]): Map<number, Sequence[][]> {
  const out = new Map<number, Sequence[][]>();
  for (const g of groups) {
    const L = g[0]!.spec.prompt.length;
    const list = out.get(L);
    if (list) list.push(g);
    else out.set(L, [g]);
  }
  return out;
}

import { LlamaKVCache } from '../model/kv-cache.js';
import type { LlamaModel } from '../model/llama.js';
import { LogitsSampler, type SamplingOptions } from '../sample/logits-sampler.js';
import { Rng } from '../sample/rng.js';
import { CompletionText } from './completion-text.js';
import { KVSlots } from './kv-slots.js';

export type FinishReason = 'stop' | 'length';

/** One sequence to generate: a prompt, its sampling parameters and when to stop. */
export interface SequenceSpec {
  id: number; // unique among live sequences
  prompt: Int32Array; // (P) model input ids, bos included
  maxTokens: number; // new tokens, at most (≥ 1)
  sampling: SamplingOptions;
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
 * Synchronous and single-threaded: the server runs it on a worker thread.
 */
export class ContinuousBatcher {
  private readonly queue: Sequence[] = [];
  private readonly running: Sequence[] = [];
  private readonly slots: KVSlots;
  private readonly V: number;

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

  /** Positions of the model's context a spec needs: the last drawn token is never fed back. */
  static positionsNeeded(spec: Pick<SequenceSpec, 'prompt' | 'maxTokens'>): number {
    return spec.prompt.length + spec.maxTokens - 1;
  }

  submit(spec: SequenceSpec): void {
    const { vocabSize, maxSeqLen } = this.model.config;
    if (spec.prompt.length < 1) throw new RangeError(`sequence ${spec.id}: empty prompt`);
    if (!Number.isInteger(spec.maxTokens) || spec.maxTokens < 1) throw new RangeError(`sequence ${spec.id}: maxTokens ${spec.maxTokens} < 1`);
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
    this.slots.release(this.running[r]!.slot);
    this.running.splice(r, 1);
    return true;
  }

  step(): StepReport {
    const admitted = this.admit();
    const events: SequenceEvent[] = [];
    const batchSize = this.running.length;
    for (const seq of [...this.running]) {
      const tok = seq.sampler.sample(seq.logits, 0, seq.rng);
      let finish: FinishReason | null = null;
      let text: string;
      if (seq.spec.stopTokens.includes(tok)) {
        finish = 'stop';
        text = seq.text.finish();
      } else {
        seq.generated++;
        seq.lastToken = tok;
        const r = seq.text.push(tok);
        text = r.delta;
        if (r.stopped) finish = 'stop';
        else if (seq.generated >= seq.spec.maxTokens) {
          finish = 'length';
          text += seq.text.finish();
        }
      }
      if (finish) this.cancel(seq.spec.id);
      if (finish || text.length > 0) events.push({ id: seq.spec.id, text, tokens: seq.generated, finishReason: finish });
    }
    this.shrink();
    if (this.running.length > 0) this.decode();
    return { batchSize, admitted, events };
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
    const all = [...this.running, ...joining];
    const width = Math.max(this.slots.width, this.slots.widthFor(all.length));
    const capacity = Math.max(this.slots.capacity, this.slots.capacityFor(Math.max(...all.map((s) => ContinuousBatcher.positionsNeeded(s.spec)))));
    if (width !== this.slots.width || capacity !== this.slots.capacity) {
      this.slots.resize(width, capacity, this.running.map((s) => s.slot));
      this.running.forEach((s, i) => (s.slot = i));
    }
    const used = new Set(this.running.map((s) => s.slot));
    let free = 0;
    for (const seq of joining) {
      while (used.has(free)) free++;
      seq.slot = free++;
      this.running.push(seq);
    }
    this.prefill(joining);
    return joining.length;
  }

  /** Runs each distinct prompt once — equal lengths together in one fresh cache — and copies the keys and values into the slots. */
  private prefill(joining: Sequence[]): void {
    const byPrompt = new Map<string, Sequence[]>();
    for (const seq of joining) {
      const key = promptKey(seq.spec.prompt);
      const list = byPrompt.get(key);
      if (list) list.push(seq);
      else byPrompt.set(key, [seq]);
    }
    const byLength = new Map<number, Sequence[][]>();
    for (const group of byPrompt.values()) {
      const L = group[0]!.spec.prompt.length;
      const list = byLength.get(L);
      if (list) list.push(group);
      else byLength.set(L, [group]);
    }
    const V = this.V;
    for (const [L, groups] of byLength) {
      const k = groups.length;
      const fresh = this.model.createKVCache(k, L);
      if (!(fresh instanceof LlamaKVCache)) throw new Error('prefill needs the LlamaKVCache layout');
      const tokens = new Int32Array(k * L); // (k, L)
      groups.forEach((g, i) => tokens.set(g[0]!.spec.prompt, i * L));
      const logits = this.model.step(fresh, tokens, L); // (k, V)
      groups.forEach((g, i) => {
        for (const seq of g) {
          this.slots.importSlot(fresh, i, seq.slot, L);
          seq.logits = logits.subarray(i * V, (i + 1) * V);
        }
      });
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

function promptKey(prompt: Int32Array): string {
  return prompt.join(',');
}

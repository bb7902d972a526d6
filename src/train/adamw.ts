import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import { UserError } from '../common/errors.js';
import { writeFileAtomic } from '../common/fs-atomic.js';
import type { Tensor } from '../engine/backend.js';
import type { LanguageModel, ParamEntry } from '../model/types.js';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export interface WeightDecayRule {
  decayEmbeddings: boolean; // decay the input token embedding too (an untied lm_head is a matrix like any other)
  noDecay: readonly string[]; // regular expressions on parameter names that are never decayed
}

/**
 * Which parameters get weight decay: matrices do, vectors (norm gains, biases) never do; the input
 * token embedding only when `decayEmbeddings`; any name matching a `noDecay` pattern never.
 */
export function decayMask(table: readonly ParamEntry[], rule: WeightDecayRule): boolean[] {
  const patterns = rule.noDecay.map((p) => {
    try {
      return new RegExp(p);
    } catch (err) {
      throw new UserError(`train.noDecay: "${p}" is not a valid regular expression (${(err as Error).message})`);
    }
  });
  return table.map((e) => {
    if (e.shape.length < 2) return false;
    if (!rule.decayEmbeddings && /embed_tokens/.test(e.name)) return false;
    return !patterns.some((re) => re.test(e.name));
  });
}

const MAGIC = 'SBPADAMW';
const VERSION = 1;
const HEADER_BYTES = 32;

/**
 * AdamW with decoupled weight decay over the model's single parameter allocation: first and second
 * moments mirror `params`, one `backend.adamw` call per parameter entry so each entry can have its
 * own decay. `step` counts applied updates (skipped steps do not count), for bias correction.
 */
export class AdamW {
  readonly m: Tensor; // (numParams) f32, mirrors params
  readonly v: Tensor; // (numParams) f32
  step = 0;
  private readonly views: Array<{ p: Tensor; g: Tensor; m: Tensor; v: Tensor; decay: boolean }>;

  constructor(
    private readonly model: LanguageModel,
    readonly cfg: AdamWConfig,
    decay: readonly boolean[],
  ) {
    const be = model.backend;
    if (decay.length !== model.paramTable.length) throw new Error(`decay mask has ${decay.length} entries, the model ${model.paramTable.length}`);
    this.m = be.alloc([model.numParams]);
    this.v = be.alloc([model.numParams]);
    this.views = model.paramTable.map((e, i) => ({
      p: be.view(model.params, e.offset, [e.size]),
      g: be.view(model.grads, e.offset, [e.size]),
      m: be.view(this.m, e.offset, [e.size]),
      v: be.view(this.v, e.offset, [e.size]),
      decay: decay[i]!,
    }));
  }

  /** One update of every parameter from the current gradients at learning rate `lr`. */
  update(lr: number): void {
    this.step++;
    const be = this.model.backend;
    for (const e of this.views) {
      be.adamw(e.p, e.g, e.m, e.v, {
        lr,
        beta1: this.cfg.beta1,
        beta2: this.cfg.beta2,
        eps: this.cfg.eps,
        weightDecay: e.decay ? this.cfg.weightDecay : 0,
        step: this.step,
      });
    }
  }

  /**
   * Writes the moments: a 32-byte header (magic "SBPADAMW", version u32, dtype u32 = 1 for f32,
   * numParams f64, step u32, reserved u32), then m and v as little-endian f32.
   */
  save(path: string): void {
    const N = this.model.numParams;
    const m = this.model.backend.download(this.m) as Float32Array;
    const v = this.model.backend.download(this.v) as Float32Array;
    const buf = new Uint8Array(HEADER_BYTES + 8 * N);
    const dv = new DataView(buf.buffer);
    for (let i = 0; i < MAGIC.length; i++) buf[i] = MAGIC.charCodeAt(i);
    dv.setUint32(8, VERSION, true);
    dv.setUint32(12, 1, true);
    dv.setFloat64(16, N, true);
    dv.setUint32(24, this.step, true);
    new Float32Array(buf.buffer, HEADER_BYTES, N).set(m);
    new Float32Array(buf.buffer, HEADER_BYTES + 4 * N, N).set(v);
    writeFileAtomic(path, buf);
  }

  /** Reads moments written by `save`; checks magic, version, parameter count and file size. */
  load(path: string): void {
    const N = this.model.numParams;
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const head = new Uint8Array(HEADER_BYTES);
      if (size < HEADER_BYTES || readSync(fd, head, 0, HEADER_BYTES, 0) !== HEADER_BYTES) throw new UserError(`${path}: too short for an optimizer state file; delete the checkpoint folder to restart training`);
      const dv = new DataView(head.buffer);
      const magic = String.fromCharCode(...head.subarray(0, 8));
      if (magic !== MAGIC) throw new UserError(`${path}: not an optimizer state file (magic "${magic}"); delete the checkpoint folder to restart training`);
      const version = dv.getUint32(8, true);
      if (version !== VERSION) throw new UserError(`${path}: optimizer state version ${version}, this sbp reads version ${VERSION}`);
      const count = dv.getFloat64(16, true);
      if (count !== N) throw new UserError(`${path}: optimizer state for ${count} parameters, the model has ${N}: the checkpoint belongs to another model`);
      if (size !== HEADER_BYTES + 8 * N) throw new UserError(`${path}: ${size} bytes, expected ${HEADER_BYTES + 8 * N} (truncated?); delete the checkpoint folder to restart training`);
      const body = new Float32Array(2 * N);
      const bytes = new Uint8Array(body.buffer);
      for (let got = 0; got < bytes.length; ) {
        const n = readSync(fd, bytes, got, bytes.length - got, HEADER_BYTES + got);
        if (n === 0) throw new UserError(`${path}: ended early; delete the checkpoint folder to restart training`);
        got += n;
      }
      this.model.backend.upload(this.m, body.subarray(0, N));
      this.model.backend.upload(this.v, body.subarray(N));
      this.step = dv.getUint32(24, true);
    } finally {
      closeSync(fd);
    }
  }
}

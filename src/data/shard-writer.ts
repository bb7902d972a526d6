import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import type { StageContext } from '../stage/stage.js';
import type { CorpusSplit } from './document.js';

/** What a shard's completion marker records; a resumed run checks its re-streamed shard against it. */
export interface ShardInfo {
  docs: number;
  chars: number;
  bytes: number;
  sha256: string;
}

export function shardFileName(split: CorpusSplit, index: number): string {
  return `${split}-${String(index).padStart(5, '0')}.jsonl`;
}

const FLUSH_CHARS = 1 << 22; // write the buffered lines in ~4M-character batches

/**
 * Writes one split as numbered JSONL shards of `docsPerShard` lines. A shard is written under a
 * temporary name, fsynced, renamed into place, then marked done. A shard already marked done by
 * an interrupted attempt is not rewritten: its lines are only hashed and compared with the marker,
 * so a resumed run is byte-identical to a clean one (or fails loudly when the input changed).
 */
export class ShardWriter {
  private index = 0;
  private docs = 0;
  private chars = 0;
  private bytes = 0;
  private hash: Hash = createHash('sha256');
  private fd: number | undefined;
  private pending: string[] = [];
  private pendingChars = 0;
  private reusing = false;
  /** Shards written by this attempt and shards kept from an earlier one. */
  readonly written: string[] = [];
  readonly reused: string[] = [];

  constructor(
    private readonly ctx: StageContext,
    private readonly split: CorpusSplit,
    private readonly docsPerShard: number,
    private readonly afterShard?: (shard: string) => void,
  ) {}

  get shardCount(): number {
    return this.written.length + this.reused.length;
  }

  /** Appends one document line (JSON without the newline) of `chars` characters. */
  add(json: string, chars: number): void {
    if (this.docs === 0) this.open();
    const line = `${json}\n`;
    this.hash.update(line);
    this.bytes += Buffer.byteLength(line);
    this.docs++;
    this.chars += chars;
    if (!this.reusing) {
      this.pending.push(line);
      this.pendingChars += line.length;
      if (this.pendingChars >= FLUSH_CHARS) this.flush();
    }
    if (this.docs === this.docsPerShard) this.close();
  }

  /** Closes the last, partial shard. */
  finish(): void {
    if (this.docs > 0) this.close();
  }

  /** Releases the open temporary file after a failure (the shard stays unfinished). */
  abort(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private get name(): string {
    return shardFileName(this.split, this.index);
  }

  private open(): void {
    this.hash = createHash('sha256');
    this.reusing = this.ctx.isDone(this.name);
    if (!this.reusing) this.fd = openSync(join(this.ctx.dir, `${this.name}.tmp`), 'w');
  }

  private flush(): void {
    if (this.fd === undefined || this.pending.length === 0) return;
    writeSync(this.fd, this.pending.join(''));
    this.pending = [];
    this.pendingChars = 0;
  }

  private close(): void {
    const info: ShardInfo = { docs: this.docs, chars: this.chars, bytes: this.bytes, sha256: this.hash.digest('hex') };
    const name = this.name;
    if (this.reusing) {
      const before = this.ctx.doneInfo<ShardInfo>(name);
      if (!before || before.sha256 !== info.sha256 || before.docs !== info.docs) {
        throw new UserError(
          `${join(this.ctx.dir, name)}: an interrupted earlier run wrote different documents to this shard (the sources changed since); rerun with --force to rebuild the corpus`,
        );
      }
      this.reused.push(name);
    } else {
      this.flush();
      fsyncSync(this.fd!);
      closeSync(this.fd!);
      this.fd = undefined;
      renameSync(join(this.ctx.dir, `${name}.tmp`), join(this.ctx.dir, name));
      this.ctx.markDone(name, info);
      this.written.push(name);
    }
    this.index++;
    this.docs = 0;
    this.chars = 0;
    this.bytes = 0;
    this.afterShard?.(name);
  }
}

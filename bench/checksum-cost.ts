// What integrity checks cost on read, in seconds per GB: the CRC-32 of a model folder's files
// (checksums.json, checked on every load) and the full verification of a token shard (tokens CRC-32
// plus every id below the vocabulary, once per shard per process), next to two peers measured on the
// same file in the same run: a plain read of the file (the I/O floor) and Node's SHA-256.
// Files are read from the page cache (each is read once before timing), as right after a stage wrote
// them. Median of 5 alternating rounds.
// Usage: npx tsx bench/checksum-cost.ts [--mb 256]   → one JSON object.
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { checksumFile } from '../src/common/file-checksums.js';
import { TokenShardReader } from '../src/tokens/shard-reader.js';
import { TokenShardWriter } from '../src/tokens/shard-writer.js';
import { flag } from './train.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const CHUNK = 8 << 20;

function readAll(path: string, each: (buf: Buffer) => void): number {
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(CHUNK);
  let bytes = 0;
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, bytes);
      if (n === 0) return bytes;
      each(buf.subarray(0, n));
      bytes += n;
    }
  } finally {
    closeSync(fd);
  }
}

function main(): void {
  const mb = Number(flag('mb', '256'));
  const dir = mkdtempSync(join(tmpdir(), 'sbp-bench-crc-'));
  try {
    // A weights-like file: float32 noise.
    const blob = join(dir, 'model.safetensors');
    const data = Buffer.allocUnsafe(mb << 20);
    let s = 12345;
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE((s = (Math.imul(s, 1103515245) + 12345) >>> 0), i);
    writeFileSync(blob, data);
    // A token shard of the same size: uint16 ids below 16384, documents of 2048 tokens.
    const shard = join(dir, 'train-00000.tok');
    const w = new TokenShardWriter(shard, { vocabSize: 16_384 });
    const doc = new Uint16Array(2048);
    const docs = Math.floor((mb << 20) / 2 / doc.length);
    for (let d = 0; d < docs; d++) {
      for (let t = 0; t < doc.length; t++) doc[t] = (s = (Math.imul(s, 1103515245) + 12345) >>> 0) % 16_384;
      w.addDocument(`d${d}`, doc);
    }
    w.close();
    const shardBytes = docs * doc.length * 2;

    const candidates: Record<string, () => number> = {
      read: () => readAll(blob, () => {}),
      crc32: () => checksumFile(blob).bytes,
      sha256: () => {
        const h = createHash('sha256');
        const n = readAll(blob, (b) => h.update(b));
        h.digest();
        return n;
      },
      shardVerify: () => {
        const r = TokenShardReader.open(shard);
        try {
          r.verify();
        } finally {
          r.close();
        }
        return shardBytes;
      },
    };
    for (const run of Object.values(candidates)) run(); // warm the page cache
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(candidates).map((k) => [k, []]));
    const bytes: Record<string, number> = {};
    for (let round = 0; round < 5; round++) {
      for (const [name, run] of Object.entries(candidates)) {
        const t0 = performance.now();
        bytes[name] = run();
        times[name]!.push((performance.now() - t0) / 1000);
      }
    }
    const secondsPerGB = Object.fromEntries(Object.entries(times).map(([k, t]) => [k, Number((median(t) / (bytes[k]! / 1e9)).toFixed(3))]));
    process.stdout.write(
      `${JSON.stringify({
        bench: 'checksum-cost',
        fileMB: mb,
        secondsPerGB, // median of 5 rounds, page-cached file
        crc32VsSha256: Number((secondsPerGB.sha256! / secondsPerGB.crc32!).toFixed(1)),
        crc32OverRead: Number((secondsPerGB.crc32! - secondsPerGB.read!).toFixed(3)),
        cores: availableParallelism(),
        load1: Number(loadavg()[0]!.toFixed(2)),
      })}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();

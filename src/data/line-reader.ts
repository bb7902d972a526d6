import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { UserError } from '../common/errors.js';

/** True when the file starts with the gzip magic bytes (1f 8b), whatever its name. */
export async function isGzipFile(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await fh.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** A byte stream of the file, gunzipped when it is gzip. Corrupt gzip becomes a UserError naming the file. */
export async function openMaybeGzip(path: string): Promise<Readable> {
  const raw = createReadStream(path, { highWaterMark: 1 << 20 });
  if (!(await isGzipFile(path))) return raw;
  const gunzip = createGunzip();
  raw.on('error', (err) => gunzip.destroy(err));
  return raw.pipe(gunzip);
}

/**
 * Streams the lines of a (possibly gzipped) file as raw bytes, without the line end (\n or \r\n),
 * with 1-based line numbers. Bytes, not strings, so each line's UTF-8 can be checked and repaired
 * on its own. Memory: one chunk plus the longest line.
 */
export async function* readLines(path: string): AsyncGenerator<{ line: Buffer; lineNo: number }> {
  const stream = await openMaybeGzip(path);
  let pending: Buffer[] = [];
  let lineNo = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(0x0a, start);
        if (nl < 0) break;
        let line = chunk.subarray(start, nl);
        if (pending.length > 0) {
          line = Buffer.concat([...pending, line]);
          pending = [];
        }
        lineNo++;
        yield { line: stripCr(line), lineNo };
        start = nl + 1;
      }
      if (start < chunk.length) pending.push(chunk.subarray(start));
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'Z_DATA_ERROR' || (err as NodeJS.ErrnoException).code === 'Z_BUF_ERROR') {
      throw new UserError(`${path}:${lineNo + 1}: the gzip data is corrupt or truncated (${(err as Error).message}); re-create or re-download the file`);
    }
    throw err;
  } finally {
    stream.destroy();
  }
  if (pending.length > 0) {
    lineNo++;
    yield { line: stripCr(Buffer.concat(pending)), lineNo };
  }
}

function stripCr(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, line.length - 1) : line;
}

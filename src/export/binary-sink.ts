import { closeSync, openSync, renameSync, writeSync } from 'node:fs';

/**
 * An append-only binary file written through one reused buffer (4 MiB), to `<path>.partial` and
 * renamed into place on `close()`, so a half-written export is never mistaken for a finished one.
 * Memory stays constant however large the file grows.
 */
export class BinarySink {
  private readonly fd: number;
  private readonly buf: Buffer;
  private used = 0;
  private closed = false;
  /** Bytes written so far (buffered ones included). */
  bytes = 0;

  constructor(readonly path: string, bufferBytes = 4 << 20) {
    this.fd = openSync(`${path}.partial`, 'w');
    this.buf = Buffer.allocUnsafe(bufferBytes);
  }

  write(data: Uint8Array): void {
    if (data.length > this.buf.length - this.used) this.flush();
    if (data.length > this.buf.length) {
      writeSync(this.fd, data);
    } else {
      this.buf.set(data, this.used);
      this.used += data.length;
    }
    this.bytes += data.length;
  }

  /** Writes `data` at an absolute offset (e.g. a header whose counts are known only at the end). */
  writeAt(data: Uint8Array, offset: number): void {
    this.flush();
    writeSync(this.fd, data, 0, data.length, offset);
  }

  flush(): void {
    let off = 0;
    while (off < this.used) off += writeSync(this.fd, this.buf, off, this.used - off);
    this.used = 0;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    closeSync(this.fd);
    this.closed = true;
    renameSync(`${this.path}.partial`, this.path);
  }

  /** Closes without renaming (the `.partial` file stays for inspection); for error paths. */
  abandon(): void {
    if (this.closed) return;
    closeSync(this.fd);
    this.closed = true;
  }
}

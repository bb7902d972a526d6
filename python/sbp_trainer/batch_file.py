"""Reader of sbp's batch files (docs/formats.md, "batch file"): a 64-byte header, then batches of
(B, T) token ids, (B, T) target ids and, when flagged, a (B, T) u8 loss mask. Memory-mapped."""
import os
import struct

import numpy as np

MAGIC = b'SBPBATCH'
VERSION = 1
HEADER_BYTES = 64


class BatchFile:
    def __init__(self, path):
        self.path = path
        size = os.path.getsize(path)
        with open(path, 'rb') as f:
            head = f.read(HEADER_BYTES)
        if len(head) < HEADER_BYTES or head[:8] != MAGIC:
            raise SystemExit(f'{path}: not an sbp batch file (magic {head[:8]!r}); rerun the sbp stage to rewrite it')
        version, token_bytes, flags, B, T, _ = struct.unpack_from('<6I', head, 8)
        num_batches, vocab_size = struct.unpack_from('<2d', head, 32)
        if version != VERSION:
            raise SystemExit(f'{path}: batch file version {version}, this trainer reads version {VERSION}')
        if token_bytes not in (2, 4):
            raise SystemExit(f'{path}: token width {token_bytes} bytes; expected 2 or 4')
        self.B, self.T = B, T
        self.has_mask = bool(flags & 1)
        self.num_batches = int(num_batches)
        self.vocab_size = int(vocab_size)
        self.token_dtype = np.dtype('<u2') if token_bytes == 2 else np.dtype('<i4')
        n = B * T
        self.batch_bytes = n * (2 * token_bytes + (1 if self.has_mask else 0))
        want = HEADER_BYTES + self.num_batches * self.batch_bytes
        if size != want:
            raise SystemExit(f'{path}: {size} bytes, the header implies {want} (truncated?); rerun the sbp stage')
        self.raw = np.memmap(path, dtype=np.uint8, mode='r', offset=HEADER_BYTES, shape=(self.num_batches * self.batch_bytes,))
        self.token_bytes = token_bytes

    def batch(self, i):
        """(tokens (B, T) int64, targets (B, T) int64, mask (B, T) float32 or None) as numpy arrays."""
        if not 0 <= i < self.num_batches:
            raise IndexError(f'batch {i} of {self.num_batches} in {self.path}')
        n = self.B * self.T
        base = i * self.batch_bytes
        ids = self.raw[base:base + 2 * n * self.token_bytes].view(self.token_dtype).astype(np.int64)
        tokens = ids[:n].reshape(self.B, self.T)
        targets = ids[n:].reshape(self.B, self.T)
        mask = None
        if self.has_mask:
            mask = self.raw[base + 2 * n * self.token_bytes:base + self.batch_bytes].astype(np.float32).reshape(self.B, self.T)
        return tokens, targets, mask

// Worker side of piece counting (see count-pieces.ts): counts the pre-tokens of the text batches it
// is sent, acknowledges each batch (for back-pressure), and returns its counts when told to finish.
import { parentPort } from 'node:worker_threads';
import { PreTokenizer } from './pre-tokenizer.js';
import { countInto, type CountMessage, type CountReply } from './count-pieces.js';

const port = parentPort;
if (!port) throw new Error('count-worker.js must run as a worker thread');
const pre = PreTokenizer.sbp();
const counts = new Map<string, number>();
port.on('message', (msg: CountMessage) => {
  if (msg.kind === 'texts') {
    for (const text of msg.texts) countInto(pre, text, counts);
    port.postMessage({ kind: 'ack' } satisfies CountReply);
  } else {
    const pieces = [...counts.keys()];
    const values = Float64Array.from(counts.values());
    port.postMessage({ kind: 'counts', pieces, counts: values } satisfies CountReply, [values.buffer]);
    port.close();
  }
});

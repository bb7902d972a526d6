import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small OpenAI-compatible `/v1/embeddings` server for tests, with scripted failures. The vector of
 * a text is a fixed function of its characters (`serverVector`), so tests can compute expectations.
 */
export type Fault = 'ok' | '503' | '429' | '401' | '400' | 'hang' | 'drop' | 'bad-json' | 'short' | 'shuffled';

export interface EmbeddingServer {
  url: string; // base URL, ending in /v1
  /** Every request's input texts, in arrival order. */
  requests: string[][];
  maxInFlight: number;
  close(): Promise<void>;
}

export const SERVER_DIM = 8;

export function serverVector(text: string): number[] {
  const v = new Array<number>(SERVER_DIM).fill(0);
  for (let i = 0; i < text.length; i++) v[(text.charCodeAt(i) * 31 + i) % SERVER_DIM] += 1 + (text.charCodeAt(i) % 5);
  v[0] += 0.5; // never all zero
  return v;
}

export async function startEmbeddingServer(opts: {
  /** The fault for request number `n` (0-based, counting every request). */
  fault?: (n: number, input: string[]) => Fault;
  delayMs?: number;
  retryAfterSec?: number;
  apiKey?: string;
}): Promise<EmbeddingServer> {
  const requests: string[][] = [];
  let inFlight = 0;
  const state = { maxInFlight: 0 };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', async () => {
      if (req.url !== '/v1/embeddings' || req.method !== 'POST') {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `no route ${req.url}` } }));
        return;
      }
      if (opts.apiKey !== undefined && req.headers.authorization !== `Bearer ${opts.apiKey}`) {
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'invalid api key' } }));
        return;
      }
      const parsed = JSON.parse(body) as { input: string[]; model: string };
      const n = requests.length;
      requests.push(parsed.input);
      inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, inFlight);
      try {
        if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
        const fault = opts.fault?.(n, parsed.input) ?? 'ok';
        if (fault === 'hang') return; // never answers; the client must time out
        if (fault === 'drop') {
          req.socket.destroy(); // the connection dies without an answer
          return;
        }
        if (fault === '503' || fault === '429') {
          const headers: Record<string, string> = { 'content-type': 'text/plain' };
          if (opts.retryAfterSec !== undefined) headers['retry-after'] = String(opts.retryAfterSec);
          res.writeHead(Number(fault), headers).end('overloaded, try later');
          return;
        }
        if (fault === '401' || fault === '400') {
          res.writeHead(Number(fault), { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `scripted ${fault}` } }));
          return;
        }
        if (fault === 'bad-json') {
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"data": [ {"embedding": [0.1, ');
          return;
        }
        let data = parsed.input.map((t, index) => ({ object: 'embedding', index, embedding: serverVector(t) }));
        if (fault === 'short') data = data.slice(1);
        if (fault === 'shuffled') data = data.reverse();
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', model: parsed.model, data, usage: { prompt_tokens: 0, total_tokens: 0 } }));
      } finally {
        inFlight--;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    get maxInFlight() {
      return state.maxInFlight;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port on 127.0.0.1 that nothing listens on. */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

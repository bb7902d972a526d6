import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ScriptedServer {
  baseUrl: string; // ends in /v1
  bodies: Array<Record<string, unknown>>; // every request body received, in arrival order
  maxInFlight: number;
  close(): Promise<void>;
}

/**
 * A small OpenAI-compatible server on 127.0.0.1 for tests: `answer` decides each reply from the
 * request body and the number of earlier requests with the same key (so a script can fail the first
 * attempts of a request, then succeed). 'drop' destroys the connection without an answer.
 */
export type Answer = { status: number; body: unknown; headers?: Record<string, string>; delayMs?: number } | 'drop';

export async function scriptedServer(answer: (path: string, body: Record<string, unknown>, attempt: number) => Answer, keyOf: (body: Record<string, unknown>) => string = (b) => JSON.stringify(b)): Promise<ScriptedServer> {
  const attempts = new Map<string, number>();
  const state = { bodies: [] as Array<Record<string, unknown>>, inFlight: 0, maxInFlight: 0 };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      state.bodies.push(body);
      const key = `${req.url} ${keyOf(body)}`;
      const attempt = attempts.get(key) ?? 0;
      attempts.set(key, attempt + 1);
      const a = answer(req.url ?? '', body, attempt);
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      const finish = () => {
        state.inFlight--;
        if (a === 'drop') {
          req.socket.destroy();
          return;
        }
        res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
        res.end(typeof a.body === 'string' ? a.body : JSON.stringify(a.body));
      };
      const delay = a === 'drop' ? 0 : (a.delayMs ?? 0);
      if (delay > 0) setTimeout(finish, delay);
      else finish();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    get bodies() {
      return state.bodies;
    },
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

/** A completion reply in OpenAI's shape. */
export function completionReply(text: string, finishReason: 'stop' | 'length'): unknown {
  return { id: 'cmpl-test', object: 'text_completion', model: 'm', choices: [{ index: 0, text, finish_reason: finishReason, logprobs: null }] };
}

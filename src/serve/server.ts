import { randomBytes, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, join, resolve } from 'node:path';
import { UserError } from '../common/errors.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { serverBytesOf } from './token-bytes.js';
import type { BackendChoice } from '../engine/open-backend.js';
import { ApiError } from './api-error.js';
import { CompletionLogprobs, codePoints, completionJson, TokenTexts, type LogprobsObject } from './completion-logprobs.js';
import { parseCompletionRequest, type CompletionRequest } from './completion-request.js';
import type { FinishReason, SequenceEvent, SequenceSpec } from './continuous-batcher.js';
import { parseEmbeddingRequest } from './embedding-request.js';
import { ModelWorker, type GenerationMetrics } from './model-worker.js';
import { PromptEncoder } from './prompt-encoder.js';
import { checkApiKey, checkJsonContentType, metricsRoute } from './request-guard.js';
import type { ModelInfo } from './worker-protocol.js';

export interface ServeOptions {
  modelDir: string; // a Hugging Face model folder
  modelName?: string; // the id clients ask for; default: the folder's name
  tokenizerPath?: string; // default: <modelDir>/tokenizer.json
  host?: string; // default 127.0.0.1
  port?: number; // default 8000; 0 = any free port
  maxBatch?: number; // sequences decoded together (default 16)
  prefillTokens?: number; // prompt tokens prefilled per step, at most (default 4096)
  maxQueue?: number; // sequences waiting for a batch slot before requests are refused with 429 (default 1024)
  maxN?: number; // choices per completion request (default 64)
  backend?: BackendChoice; // default auto
  threads?: number; // backend threads
  embedBatchTokens?: number; // B × T bound of one embedding forward pass (default 8192)
  maxBodyBytes?: number; // request bodies above this get 413 (default 32 MiB)
  apiKey?: string; // when set, every route but /health needs `Authorization: Bearer <apiKey>` (401 otherwise)
  log?: (line: string) => void; // one line per notable event (default: nothing)
}

export interface ServerMetrics extends GenerationMetrics {
  requests: Record<string, number>; // route ("GET /v1/models", "GET /v1/models/{id}", or "other") → requests answered
  errors: number; // requests answered with a 4xx/5xx
  inFlight: number; // requests being answered
}

export interface SbpServer {
  readonly url: string; // http://host:port (no trailing slash); the OpenAI base URL is url + "/v1"
  readonly port: number;
  readonly modelId: string;
  readonly info: ModelInfo;
  metrics(): ServerMetrics;
  /**
   * Graceful shutdown: stops accepting connections, answers new requests on open ones with 503,
   * lets requests in flight finish for up to `graceMs`, then cuts what is left and stops the worker.
   */
  close(opts?: { graceMs?: number }): Promise<void>;
}

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' };

/**
 * `sbp serve`: an OpenAI-compatible HTTP server over one checkpoint — `GET /v1/models`,
 * `POST /v1/completions` (streamed as server-sent events or not), `POST /v1/embeddings`, plus
 * `GET /health` and `GET /metrics`. The main thread parses, validates and tokenizes requests and
 * writes responses; the model runs on a worker thread with continuous batching (see
 * continuous-batcher.ts), so the event loop stays free while tokens are generated.
 */
export async function startServer(opts: ServeOptions): Promise<SbpServer> {
  const modelDir = resolve(opts.modelDir);
  const tokenizerPath = opts.tokenizerPath ?? join(modelDir, 'tokenizer.json');
  if (!existsSync(tokenizerPath)) throw new UserError(`${tokenizerPath} not found: the served model needs a tokenizer.json (copy the run's tokenizer/tokenizer.json into ${modelDir}, or pass the tokenizer's path)`);
  const tokenizer = Tokenizer.load(tokenizerPath);
  const encoder = new PromptEncoder(tokenizer);
  const bytesOf = serverBytesOf(tokenizer);
  const tokenTexts = new TokenTexts(bytesOf);
  const bosText = tokenizer.decode([tokenizer.special.bos]);
  const modelId = opts.modelName ?? basename(modelDir);
  const maxBatch = opts.maxBatch ?? 16;
  const maxQueue = opts.maxQueue ?? 1024;
  const maxBodyBytes = opts.maxBodyBytes ?? 32 << 20;
  const log = opts.log ?? (() => {});
  const worker = await ModelWorker.start({
    modelDir,
    tokenizerPath,
    backend: opts.backend ?? 'auto',
    threads: opts.threads,
    maxBatch,
    prefillTokens: opts.prefillTokens ?? 4096,
    embedBatchTokens: opts.embedBatchTokens ?? 8192,
  });
  for (const note of worker.info.notes) log(note);
  const info = worker.info;
  if (tokenizer.vocabSize > info.vocabSize) {
    await worker.close();
    throw new UserError(`${tokenizerPath} has ${tokenizer.vocabSize} tokens but the model in ${modelDir} only ${info.vocabSize}; serve the model with the tokenizer it was trained with`);
  }
  const limits = { modelId, maxSeqLen: info.maxSeqLen, vocabSize: info.vocabSize, hiddenSize: info.hiddenSize, maxN: opts.maxN ?? 64 };
  const created = Math.floor(Date.now() / 1000);
  const counters = { requests: {} as Record<string, number>, errors: 0 };
  let nextSeqId = 1;
  let waitingSeqs = 0; // sequences submitted and not finished
  let draining = false;
  const inFlight = new Set<Promise<void>>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
    const route = metricsRoute(req.method, path);
    counters.requests[route] = (counters.requests[route] ?? 0) + 1;
    checkApiKey(req, path, opts.apiKey);
    if (draining) throw new ApiError(503, 'the server is shutting down', 'service_unavailable', null, 'shutting_down');
    if (worker.failure) throw new ApiError(503, `the model worker stopped: ${worker.failure.message}`, 'service_unavailable', null, 'worker_failed');
    if (req.method === 'POST' && (path === '/v1/completions' || path === '/v1/embeddings')) checkJsonContentType(req);
    if (path === '/health' && req.method === 'GET') return sendJson(res, 200, { status: 'ok', model: modelId, running: worker.metrics.running, queued: worker.metrics.queued });
    if (path === '/metrics' && req.method === 'GET') return sendJson(res, 200, metrics());
    if (path === '/v1/models' && req.method === 'GET') return sendJson(res, 200, { object: 'list', data: [modelCard()] });
    if (path.startsWith('/v1/models/') && req.method === 'GET') {
      const id = decodeURIComponent(path.slice('/v1/models/'.length));
      if (id !== modelId) throw new ApiError(404, `The model \`${id}\` does not exist; this server serves "${modelId}"`, 'invalid_request_error', 'model', 'model_not_found');
      return sendJson(res, 200, modelCard());
    }
    if (path === '/v1/completions' && req.method === 'POST') return completions(parseCompletionRequest(await readJson(req, maxBodyBytes), limits, encoder), req, res);
    if (path === '/v1/embeddings' && req.method === 'POST') return embeddings(await readJson(req, maxBodyBytes), res);
    const known = ['/health', '/metrics', '/v1/models', '/v1/completions', '/v1/embeddings'];
    if (known.includes(path) || path.startsWith('/v1/models/')) throw new ApiError(405, `${req.method} is not allowed on ${path}`, 'invalid_request_error', null, 'method_not_allowed');
    throw new ApiError(404, `no route ${req.method} ${path}; this server answers /v1/models, /v1/completions, /v1/embeddings, /health and /metrics`, 'invalid_request_error', null, 'not_found');
  };

  const modelCard = () => ({ id: modelId, object: 'model', created, owned_by: 'sbp', max_model_len: info.maxSeqLen });

  const metrics = (): ServerMetrics => ({ ...worker.metrics, batchSizes: { ...worker.metrics.batchSizes }, requests: { ...counters.requests }, errors: counters.errors, inFlight: inFlight.size });

  const completions = (r: CompletionRequest, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const total = r.prompts.length * r.n;
    if (total > maxQueue + maxBatch) {
      // Retrying could never help this one: say so with a 400 rather than a 429.
      throw new ApiError(400, `this request asks for ${total} sequences (prompts × n); this server queues at most ${maxQueue + maxBatch} — split it`, 'invalid_request_error', 'prompt', 'too_many_sequences');
    }
    if (waitingSeqs + total > maxQueue + maxBatch) {
      throw new ApiError(429, `the server is busy (${waitingSeqs} sequences waiting or running, at most ${maxQueue + maxBatch}); retry later`, 'rate_limit_error', null, 'server_busy');
    }
    const seed = r.seed ?? randomInt(0, 2 ** 47);
    const id = `cmpl-${randomBytes(12).toString('hex')}`;
    const when = Math.floor(Date.now() / 1000);
    const specs: SequenceSpec[] = [];
    const choiceOf = new Map<number, number>();
    r.prompts.forEach((p, i) => {
      for (let j = 0; j < r.n; j++) {
        const index = i * r.n + j; // OpenAI's choice order; also the sequence's random stream, as in `sbp sample`
        const seqId = nextSeqId++;
        choiceOf.set(seqId, index);
        specs.push({
          id: seqId,
          prompt: p.ids,
          maxTokens: r.maxTokens,
          sampling: { temperature: r.temperature, topP: r.topP, topK: r.topK },
          seed: [seed, index],
          stopTokens: r.ignoreEos ? [] : [tokenizer.special.eos],
          stop: r.stop,
          logprobs: r.logprobs,
          promptLogprobs: r.echo && r.logprobs !== null,
        });
      }
    });
    const promptOf = (index: number) => r.prompts[Math.floor(index / r.n)]!;
    const texts = specs.map((_, k) => (r.echo ? promptOf(k).text : ''));
    const logprobs = r.logprobs === null ? null : texts.map((t) => new CompletionLogprobs(tokenTexts, bytesOf, codePoints(t)));
    const echoScored = r.echo && logprobs !== null; // the echoed prompt comes with its scores, in the first event
    const tokens = new Array<number>(total).fill(0);
    const finish = new Array<FinishReason | null>(total).fill(null);
    const promptTokens = r.prompts.reduce((a, p) => a + p.ids.length, 0);
    let left = total;
    const usage = () => {
      const completion = tokens.reduce((a, t) => a + t, 0);
      return { prompt_tokens: promptTokens, completion_tokens: completion, total_tokens: promptTokens + completion };
    };
    const chunk = (index: number, text: string, reason: FinishReason | null, lp: LogprobsObject | null = null) =>
      `data: ${completionJson({ id, object: 'text_completion', created: when, model: modelId, choices: [{ text, index, logprobs: lp, finish_reason: reason }] })}\n\n`;

    if (r.stream) {
      res.writeHead(200, SSE_HEADERS);
      if (r.echo && !echoScored) texts.forEach((t, index) => t && res.write(chunk(index, t, null)));
    }
    waitingSeqs += total;
    return new Promise<void>((resolveDone) => {
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        waitingSeqs -= left;
        left = 0;
        resolveDone();
      };
      res.on('close', () => {
        if (left > 0) worker.cancel([...choiceOf.keys()]); // the client went away
        end();
      });
      const onEvent = (e: SequenceEvent): void => {
        const index = choiceOf.get(e.id)!;
        tokens[index] = e.tokens;
        const lp = logprobs?.[index];
        if (lp && e.promptLogprobs) {
          // A bos the server put in front of a text prompt is scored but is not in the echoed text.
          const p = promptOf(index);
          const part = lp.addPrompt(p.ids, e.promptLogprobs, p.ids[0] === tokenizer.special.bos && !p.text.startsWith(bosText));
          if (r.stream) res.write(chunk(index, p.text, null, part));
        }
        const part = lp ? lp.addGenerated(e.logprobs ?? []) : null;
        if (r.stream && (e.text || e.finishReason || (part && part.tokens.length > 0))) res.write(chunk(index, e.text, e.finishReason, part));
        else if (!r.stream) texts[index] += e.text;
        if (!e.finishReason) return;
        finish[index] = e.finishReason;
        left--;
        waitingSeqs--;
        if (left > 0) return;
        if (r.stream) {
          if (r.includeUsage) res.write(`data: ${JSON.stringify({ id, object: 'text_completion', created: when, model: modelId, choices: [], usage: usage() })}\n\n`);
          res.end('data: [DONE]\n\n');
        } else {
          const body = {
            id,
            object: 'text_completion',
            created: when,
            model: modelId,
            choices: texts.map((text, index) => ({ text, index, logprobs: logprobs?.[index]!.all() ?? null, finish_reason: finish[index] })),
            usage: usage(),
          };
          sendJsonText(res, 200, completionJson(body));
        }
        end();
      };
      let failed = false;
      const onError = (err: Error): void => {
        if (failed) return;
        failed = true;
        counters.errors++;
        log(`completion ${id} failed: ${err.message}`);
        const e = new ApiError(500, `generation failed: ${err.message}`, 'server_error', null, 'generation_failed');
        if (r.stream) res.end(`data: ${JSON.stringify(e.toBody())}\n\ndata: [DONE]\n\n`);
        else sendJson(res, 500, e.toBody());
        end();
      };
      try {
        worker.generate(specs, { onEvent, onError });
      } catch (err) {
        onError(err as Error);
      }
    });
  };

  const embeddings = async (body: unknown, res: ServerResponse): Promise<void> => {
    const r = parseEmbeddingRequest(body, limits);
    const { vectors, tokens } = await worker.embed(r.inputs);
    const C = info.hiddenSize;
    const data = r.inputs.map((_, i) => {
      const row = vectors.subarray(i * C, (i + 1) * C);
      const embedding = r.encodingFormat === 'base64' ? Buffer.from(row.buffer, row.byteOffset, row.byteLength).toString('base64') : Array.from(row);
      return { object: 'embedding', index: i, embedding };
    });
    sendJson(res, 200, { object: 'list', data, model: modelId, usage: { prompt_tokens: tokens, total_tokens: tokens } });
  };

  const server: Server = createServer((req, res) => {
    const done = handle(req, res).catch((err: unknown) => {
      counters.errors++;
      const e = err instanceof ApiError ? err : new ApiError(500, `internal error: ${(err as Error).message}`, 'server_error', null, 'internal_error');
      if (!(err instanceof ApiError)) log(`internal error on ${req.method} ${req.url}: ${(err as Error).stack}`);
      if (res.headersSent) res.end();
      else sendJson(res, e.status, e.toBody());
    });
    inFlight.add(done);
    void done.finally(() => inFlight.delete(done));
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      void worker.close();
      reject(err.code === 'EADDRINUSE' ? new UserError(`port ${opts.port} on ${opts.host ?? '127.0.0.1'} is already in use; pick another with --port`) : err);
    });
    server.listen(opts.port ?? 8000, opts.host ?? '127.0.0.1', () => resolveListen());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;

  let closing: Promise<void> | null = null;
  return {
    url: `http://${host}:${addr.port}`,
    port: addr.port,
    modelId,
    info,
    metrics,
    close: ({ graceMs = 30_000 } = {}) =>
      (closing ??= (async () => {
        draining = true;
        const stopped = new Promise<void>((r) => server.close(() => r()));
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<void>((r) => (timer = setTimeout(r, graceMs)));
        await Promise.race([Promise.all([...inFlight]), grace]);
        clearTimeout(timer);
        server.closeAllConnections();
        await stopped;
        await worker.close();
      })()),
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendJsonText(res, status, JSON.stringify(body));
}

function sendJsonText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The request body as JSON; too large → 413, unparsable → 400. */
function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) tooLarge = true;
      else chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (tooLarge) return reject(new ApiError(413, `the request body is larger than ${maxBytes} bytes; send fewer inputs per request`, 'invalid_request_error', null, 'request_too_large'));
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolveBody(JSON.parse(text));
      } catch (err) {
        reject(new ApiError(400, `We could not parse the JSON body of your request (${(err as Error).message}). The body must be a JSON object.`, 'invalid_request_error', null, 'invalid_json'));
      }
    });
  });
}

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { ApiError } from './api-error.js';

/** The routes the server answers; anything else is counted under one bucket so /metrics stays bounded. */
const ROUTES = new Set(['/health', '/metrics', '/v1/models', '/v1/completions', '/v1/embeddings']);

/** The /metrics key of a request: its method and route, `GET /v1/models/{id}`, or `other` for unknown paths. */
export function metricsRoute(method: string | undefined, path: string): string {
  if (ROUTES.has(path)) return `${method} ${path}`;
  if (path.startsWith('/v1/models/')) return `${method} /v1/models/{id}`;
  return 'other';
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/**
 * A bearer-key check in constant time: both sides are hashed to 32 bytes first, so neither the
 * comparison nor the length of the key leaks through timing. `/health` stays open for load balancers.
 * A missing or wrong key is OpenAI's 401 (`invalid_api_key`).
 */
export function checkApiKey(req: IncomingMessage, path: string, apiKey: string | undefined): void {
  if (apiKey === undefined || path === '/health') return;
  const auth = req.headers.authorization ?? '';
  const m = /^Bearer\s+(.+)$/i.exec(auth);
  const given = m ? m[1]!.trim() : '';
  if (given === '' || !timingSafeEqual(digest(given), digest(apiKey))) {
    throw new ApiError(
      401,
      given === ''
        ? "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        : 'Incorrect API key provided. The key is the one given to sbp serve with --api-key or SBP_API_KEY.',
      'invalid_request_error',
      null,
      'invalid_api_key',
    );
  }
}

/** A POST body must be JSON: a content type other than application/json (or +json) is a 415. */
export function checkJsonContentType(req: IncomingMessage): void {
  const type = req.headers['content-type'];
  if (type === undefined) return; // clients that send no type still get their JSON parsed
  const media = type.split(';')[0]!.trim().toLowerCase();
  if (media === 'application/json' || media.endsWith('+json')) return;
  throw new ApiError(415, `Content-Type "${media}" is not supported; send the request body as JSON with Content-Type: application/json`, 'invalid_request_error', null, 'unsupported_media_type');
}

/** True for hosts only this machine can reach (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  const h = host.replace(/^\[|\]$/g, '');
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1';
  return false;
}

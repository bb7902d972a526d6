/**
 * An error answered to an HTTP client in the OpenAI shape:
 * `{"error": {"message", "type", "param", "code"}}` with an HTTP status. Request validation throws
 * these; the server turns anything else into a 500 with type "server_error".
 */
export type ApiErrorType = 'invalid_request_error' | 'not_found_error' | 'server_error' | 'rate_limit_error' | 'service_unavailable';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: ApiErrorType,
    readonly param: string | null,
    /** Machine-readable reason; every error has one, so clients can branch without parsing text. */
    readonly code: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toBody(): { error: { message: string; type: ApiErrorType; param: string | null; code: string } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** A 400 about one request field. */
export function invalidField(param: string, message: string, code: string): ApiError {
  return new ApiError(400, message, 'invalid_request_error', param, code);
}

/**
 * Errors raised by the page's effects (API calls, uploads to S3). Each carries a stable `code` the
 * card state machine understands, and the underlying `cause`.
 */
export type WebErrorCode =
  | 'too_large'
  | 'not_an_image'
  | 'upload_expired'
  | 'upload_failed'
  | 'api_unreachable'
  | 'api_error'
  | 'bad_response'
  | 'not_found'
  | 'unauthorized';

export class WebError extends Error {
  readonly code: WebErrorCode;
  constructor(code: WebErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WebError';
    this.code = code;
  }
}

/** The API answered with an error body (`{"error": {"code", "message"}}`) or an unexpected status. */
export class ApiError extends WebError {
  readonly status: number;
  readonly apiCode: string;
  readonly retryAfterMs: number | null;
  constructor(
    code: WebErrorCode,
    message: string,
    details: { status: number; apiCode: string; retryAfterMs?: number | null },
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'ApiError';
    this.status = details.status;
    this.apiCode = details.apiCode;
    this.retryAfterMs = details.retryAfterMs ?? null;
  }
}

/** The API could not be reached at all (network error, DNS, connection refused, CORS). */
export class ApiUnreachableError extends WebError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('api_unreachable', message, options);
    this.name = 'ApiUnreachableError';
  }
}

/** The browser-direct transfer to S3 failed; `s3Code` is S3's own error code when it sent one. */
export class TransferError extends WebError {
  readonly status: number;
  readonly s3Code: string | null;
  constructor(
    code: WebErrorCode,
    message: string,
    details: { status: number; s3Code: string | null },
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'TransferError';
    this.status = details.status;
    this.s3Code = details.s3Code;
  }
}

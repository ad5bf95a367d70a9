import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { BliplineError } from '../core/errors.js';

/** An error the API answers with its own status and `{"error": {"code", "message"}}`. */
export class ApiError extends BliplineError {
  constructor(
    readonly status: ContentfulStatusCode,
    code: string,
    message: string,
    options?: { cause?: unknown; headers?: Record<string, string>; extra?: Record<string, unknown> },
  ) {
    super(code, message, options);
    this.headers = options?.headers ?? {};
    this.extra = options?.extra ?? {};
  }

  readonly headers: Record<string, string>;
  /** More fields of the error object (e.g. `quota` on a 429). */
  readonly extra: Record<string, unknown>;
}

export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);

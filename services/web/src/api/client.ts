/**
 * The page's HTTP client for the blipline API (relative URLs: the API serves the page). Every answer
 * is validated with the schemas in schemas.ts; failures become WebError subclasses with a `code`.
 */
import type * as z from 'zod/mini';
import { ApiError, ApiUnreachableError, WebError, type WebErrorCode } from '../errors.js';
import {
  ApiConfig,
  ApiErrorBody,
  CreateUploadResponse,
  ImageRecord,
  QuestionAccepted,
  QuestionRecord,
} from './schemas.js';

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** The caller's current access token (sent as `Authorization: Bearer`), or null when there is none. */
export type TokenProvider = () => Promise<string | null> | string | null;

export interface ApiClientOptions {
  /** '' in the page (same origin); tests pass the API's absolute URL. */
  readonly base?: string;
  readonly fetch?: FetchLike;
  /** Asked before every request; no provider (anonymous mode) sends no Authorization header. */
  readonly token?: TokenProvider;
  /** Called when the API answers 401 (token missing, expired or refused), before the error is thrown. */
  readonly onUnauthorized?: (error: ApiError) => void;
}

export interface CreateUploadRequest {
  readonly contentType: string;
  readonly contentLength: number;
  readonly filename?: string;
  readonly prompt?: string;
}

/** Retry-After in milliseconds (seconds or an HTTP date), or null. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null || value.trim() === '') return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : null;
}

function codeForStatus(status: number, apiCode: string): WebErrorCode {
  if (status === 413 || apiCode === 'too_large') return 'too_large';
  if (status === 415 || apiCode === 'unsupported_type' || apiCode === 'not_an_image') return 'not_an_image';
  if (status === 401) return 'unauthorized';
  if (status === 404) return 'not_found';
  // A gateway or load balancer that cannot reach the API answers 502/503/504 (without our error body).
  if (status === 502 || status === 503 || status === 504) return apiCode === 'http_error' ? 'api_unreachable' : 'api_error';
  return 'api_error';
}

interface RequestOptions {
  readonly method?: 'GET' | 'POST' | 'DELETE';
  readonly body?: unknown;
  readonly signal?: AbortSignal | undefined;
  /** A route anyone may call: no token is asked for. */
  readonly open?: boolean;
}

export class ApiClient {
  private readonly base: string;
  private readonly fetchImpl: FetchLike;
  private readonly token: TokenProvider | null;
  private readonly onUnauthorized: ((error: ApiError) => void) | null;

  constructor(options: ApiClientOptions = {}) {
    this.base = options.base ?? '';
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.token = options.token ?? null;
    this.onUnauthorized = options.onUnauthorized ?? null;
  }

  url(path: string): string {
    if (/^https?:\/\//.test(path) || this.base === '') return path;
    return new URL(path, this.base).toString();
  }

  /** GET /v1/config (open: sent without a token); null when the API has no such route. */
  async config(signal?: AbortSignal): Promise<ApiConfig | null> {
    try {
      return await this.request('/v1/config', ApiConfig, { signal, open: true });
    } catch (error) {
      if (error instanceof WebError && error.code === 'not_found') return null;
      throw error;
    }
  }

  createUpload(body: CreateUploadRequest, signal?: AbortSignal): Promise<CreateUploadResponse> {
    return this.request('/v1/uploads', CreateUploadResponse, { method: 'POST', body, signal });
  }

  image(imageId: string, signal?: AbortSignal): Promise<ImageRecord> {
    return this.request(`/v1/images/${encodeURIComponent(imageId)}`, ImageRecord, { signal });
  }

  ask(imageId: string, question: string, signal?: AbortSignal): Promise<QuestionAccepted> {
    return this.request(`/v1/images/${encodeURIComponent(imageId)}/questions`, QuestionAccepted, {
      method: 'POST',
      body: { question },
      signal,
    });
  }

  question(imageId: string, questionId: string, signal?: AbortSignal): Promise<QuestionRecord> {
    const path = `/v1/images/${encodeURIComponent(imageId)}/questions/${encodeURIComponent(questionId)}`;
    return this.request(path, QuestionRecord, { signal });
  }

  /** DELETE /v1/images/{id}: the image, its caption and its answers are gone (204). */
  async remove(imageId: string, signal?: AbortSignal): Promise<void> {
    await this.send(`/v1/images/${encodeURIComponent(imageId)}`, { method: 'DELETE', signal });
  }

  private async headers(options: { body?: unknown; open?: boolean }): Promise<Record<string, string>> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const token = options.open === true || this.token === null ? null : await this.token();
    if (token !== null && token !== '') headers['authorization'] = `Bearer ${token}`;
    return headers;
  }

  /** Sends one request and validates its JSON answer with `schema`. */
  private async request<S extends z.ZodMiniType>(path: string, schema: S, options: RequestOptions): Promise<z.infer<S>> {
    const json = await this.send(path, options);
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new WebError('bad_response', `${options.method ?? 'GET'} ${path}: unexpected answer from the API`, {
        cause: parsed.error,
      });
    }
    return parsed.data as z.infer<S>;
  }

  /** Sends one request; resolves with its JSON body (null when empty or not JSON), throws on a 4xx/5xx. */
  private async send(path: string, options: RequestOptions): Promise<unknown> {
    const init: RequestInit = { method: options.method ?? 'GET', headers: await this.headers(options) };
    if (options.body !== undefined) init.body = JSON.stringify(options.body);
    if (options.signal !== undefined) init.signal = options.signal;

    let response: Response;
    try {
      response = await this.fetchImpl(this.url(path), init);
    } catch (error) {
      if (options.signal?.aborted === true) throw error;
      throw new ApiUnreachableError(`${init.method ?? 'GET'} ${path}: the API did not answer`, { cause: error });
    }

    let json: unknown = null;
    const text = await response.text().catch(() => '');
    if (text !== '') {
      try {
        json = JSON.parse(text);
      } catch {
        json = null;
      }
    }

    if (!response.ok) {
      const parsed = ApiErrorBody.safeParse(json);
      const apiCode = parsed.success ? parsed.data.error.code : 'http_error';
      const message = parsed.success
        ? (parsed.data.error.message ?? parsed.data.error.code)
        : `HTTP ${response.status} ${response.statusText}`.trim();
      const error = new ApiError(codeForStatus(response.status, apiCode), message, {
        status: response.status,
        apiCode,
        retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
      });
      if (response.status === 401) this.onUnauthorized?.(error);
      throw error;
    }
    return json;
  }
}

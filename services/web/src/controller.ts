/**
 * Runs one card: checks the file, asks the API for a presigned upload, sends the bytes to S3, then
 * watches the record with backoff until it is done or failed; and asks questions about it. All state
 * changes go through the pure reducer in state/card.ts; this class only performs the effects.
 * No DOM here: the transfer (XMLHttpRequest) and the clock are passed in.
 */
import type { ApiClient } from './api/client.js';
import type { PresignedUpload } from './api/schemas.js';
import { ApiError, WebError } from './errors.js';
import { MAX_POLL_FAILURES, nextPollDelay } from './state/backoff.js';
import { type CardEvent, type CardState, canAsk, canDelete, cardReducer, createCard, needsStatus } from './state/card.js';
import type { CardError } from './state/errors.js';
import { toQuestionUpdate, toRecordUpdate } from './state/record.js';

export interface UploadSettings {
  /** The API's size limit, when known (GET /v1/config). */
  readonly maxUploadBytes: number | null;
  /** Whether POST /v1/uploads takes a caption `prompt`. */
  readonly prompt: boolean;
}

export type Transfer = (
  upload: PresignedUpload,
  file: Blob,
  contentType: string,
  onProgress: (loaded: number, total: number) => void,
  signal: AbortSignal,
) => Promise<void>;

export interface ControllerDeps {
  readonly api: ApiClient;
  readonly transfer: Transfer;
  /** The file's image MIME type from its bytes, or null when it is not an image. */
  readonly sniff: (file: Blob) => Promise<string | null>;
  readonly settings: () => UploadSettings;
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly random?: () => number;
}

export interface NamedBlob extends Blob {
  readonly name: string;
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

/** Turns an effect's failure into the card's error data. */
export function toCardError(error: unknown, sizeBytes: number, limitBytes: number | null): CardError {
  if (!(error instanceof WebError)) {
    return { code: 'api_error', detail: error instanceof Error ? error.message : String(error) };
  }
  switch (error.code) {
    case 'too_large':
      return limitBytes !== null ? { code: 'too_large', sizeBytes, limitBytes } : { code: 'too_large', sizeBytes };
    case 'not_an_image':
      return { code: 'not_an_image', detail: error.message };
    case 'upload_expired':
      return { code: 'upload_expired' };
    case 'upload_failed':
      return { code: 'upload_failed', detail: error.message };
    case 'api_unreachable':
      return { code: 'api_unreachable' };
    case 'not_found':
      return { code: 'not_found' };
    case 'unauthorized':
      return { code: 'unauthorized' };
    case 'api_error':
    case 'bad_response':
      return { code: 'api_error', detail: error.message };
  }
}

let questionCounter = 0;

export class CardController {
  private current: CardState;
  private readonly lifetime = new AbortController();
  /** Bumped by every new attempt, so a loop from an earlier attempt stops by itself. */
  private generation = 0;
  private contentType: string | null = null;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly random: () => number;

  constructor(
    key: string,
    private readonly file: NamedBlob,
    prompt: string | null,
    private readonly deps: ControllerDeps,
    private readonly onChange: (state: CardState) => void,
  ) {
    this.current = createCard(key, { name: file.name, size: file.size, type: file.type }, prompt);
    this.sleep = deps.sleep ?? defaultSleep;
    this.random = deps.random ?? Math.random;
  }

  get state(): CardState {
    return this.current;
  }

  private dispatch(event: CardEvent): void {
    const next = cardReducer(this.current, event);
    if (next === this.current) return;
    this.current = next;
    this.onChange(next);
  }

  /** Checks the file where the browser can (type from its bytes, size), then uploads it. */
  async start(): Promise<void> {
    const { maxUploadBytes } = this.deps.settings();
    if (maxUploadBytes !== null && this.file.size > maxUploadBytes) {
      this.dispatch({ type: 'rejected', error: { code: 'too_large', sizeBytes: this.file.size, limitBytes: maxUploadBytes } });
      return;
    }
    // A file the browser cannot even read is not an image the service can caption either.
    const sniffed = await this.deps.sniff(this.file).catch(() => null);
    if (sniffed === null) {
      this.dispatch({ type: 'rejected', error: { code: 'not_an_image' } });
      return;
    }
    // The bytes decide: a PNG named .jpg is sent as image/png (and signed as such).
    this.contentType = sniffed;
    this.dispatch({ type: 'upload_requested' });
    await this.upload();
  }

  retry(): void {
    this.dispatch({ type: 'retry' });
    if (this.current.phase.tag === 'requesting') void this.upload();
    else if (needsStatus(this.current)) void this.watch(++this.generation);
  }

  dispose(): void {
    this.lifetime.abort(new DOMException('card removed', 'AbortError'));
  }

  private async upload(): Promise<void> {
    const generation = ++this.generation;
    const signal = this.lifetime.signal;
    const settings = this.deps.settings();
    const contentType = this.contentType ?? (this.file.type !== '' ? this.file.type : 'application/octet-stream');
    try {
      const created = await this.deps.api.createUpload(
        {
          contentType,
          contentLength: this.file.size,
          filename: this.file.name,
          ...(settings.prompt && this.current.prompt !== null ? { prompt: this.current.prompt } : {}),
        },
        signal,
      );
      if (generation !== this.generation) return;
      this.dispatch({ type: 'upload_created', imageId: created.imageId });
      await this.deps.transfer(
        created.upload,
        this.file,
        contentType,
        (loaded, total) => this.dispatch({ type: 'upload_progress', loaded, total }),
        signal,
      );
      if (generation !== this.generation) return;
      this.dispatch({ type: 'upload_finished' });
    } catch (error) {
      if (isAbort(error) || generation !== this.generation) return;
      this.dispatch({ type: 'error', error: toCardError(error, this.file.size, settings.maxUploadBytes) });
      return;
    }
    await this.watch(generation);
  }

  /** Polls the record with backoff (reset on every status change) until done or failed. */
  private async watch(generation: number): Promise<void> {
    const signal = this.lifetime.signal;
    let attempt = 0;
    let failures = 0;
    let retryAfterMs: number | null = null;
    let lastStatus: string | null = null;
    while (generation === this.generation && needsStatus(this.current) && !signal.aborted) {
      try {
        await this.sleep(nextPollDelay(attempt, this.random(), retryAfterMs), signal);
      } catch {
        return;
      }
      const imageId = this.current.imageId;
      if (imageId === null || generation !== this.generation) return;
      try {
        const record = await this.deps.api.image(imageId, signal);
        if (generation !== this.generation) return;
        failures = 0;
        retryAfterMs = null;
        attempt = record.status === lastStatus ? attempt + 1 : 0;
        lastStatus = record.status;
        this.dispatch({ type: 'record', record: toRecordUpdate(record) });
      } catch (error) {
        if (isAbort(error) || generation !== this.generation) return;
        failures += 1;
        attempt += 1;
        retryAfterMs = error instanceof ApiError ? error.retryAfterMs : null;
        const permanent = error instanceof WebError && (error.code === 'not_found' || error.code === 'bad_response');
        if (permanent || failures >= MAX_POLL_FAILURES) {
          this.dispatch({ type: 'error', error: toCardError(error, this.file.size, null) });
          return;
        }
      }
    }
  }

  /**
   * DELETE the image (object, record, caption, answers) at the API. Resolves true once it is gone (an
   * image the API no longer knows is gone too), when the page removes the card; false when it failed,
   * and the card says why.
   */
  async delete(): Promise<boolean> {
    const imageId = this.current.imageId;
    if (!canDelete(this.current) || imageId === null) return false;
    this.dispatch({ type: 'delete_requested' });
    try {
      await this.deps.api.remove(imageId, this.lifetime.signal);
    } catch (error) {
      if (isAbort(error)) return false;
      if (!(error instanceof WebError && error.code === 'not_found')) {
        this.dispatch({ type: 'delete_failed', error: toCardError(error, this.file.size, null) });
        return false;
      }
    }
    this.dispose();
    return true;
  }

  /** POST the question, then poll its record with the same backoff until it has an answer. */
  async ask(question: string): Promise<void> {
    const imageId = this.current.imageId;
    if (!canAsk(this.current) || imageId === null || question.trim() === '') return;
    questionCounter += 1;
    const key = `${this.current.key}-q${questionCounter}`;
    this.dispatch({ type: 'question_asked', key, question });
    const signal = this.lifetime.signal;
    const fail = (error: CardError): void => this.dispatch({ type: 'question_failed', key, error });
    let questionId: string;
    try {
      questionId = (await this.deps.api.ask(imageId, question.trim(), signal)).questionId;
    } catch (error) {
      if (!isAbort(error)) fail(toCardError(error, this.file.size, null));
      return;
    }
    this.dispatch({ type: 'question_accepted', key, questionId });
    let attempt = 0;
    let failures = 0;
    while (!signal.aborted) {
      try {
        await this.sleep(nextPollDelay(attempt, this.random(), null), signal);
        const update = toQuestionUpdate(await this.deps.api.question(imageId, questionId, signal));
        failures = 0;
        attempt += 1;
        if (update.status === 'done') {
          this.dispatch({ type: 'question_answered', key, answer: update.answer });
          return;
        }
        if (update.status === 'failed') {
          fail({ code: 'question_failed', reasonCode: update.reasonCode, detail: update.reason });
          return;
        }
      } catch (error) {
        if (isAbort(error)) return;
        failures += 1;
        attempt += 1;
        if (failures >= MAX_POLL_FAILURES || (error instanceof WebError && error.code === 'not_found')) {
          fail(toCardError(error, this.file.size, null));
          return;
        }
      }
    }
  }
}

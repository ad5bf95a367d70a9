/**
 * One card's state machine: a pure reducer, no DOM, no I/O.
 *
 *   selected ─▶ requesting ─▶ uploading(loaded/total) ─▶ queued ─▶ processing ─▶ done
 *      │            │               │                      │           │
 *      └────────────┴───────────────┴──▶ upload_error ◀────┴───────────┘      failed(reason)
 *                                          │  retry                              │ retry
 *                                          └─▶ requesting | queued ◀─────────────┘
 *
 * `requesting` is the POST /v1/uploads call that hands out the presigned upload. After the bytes reach
 * S3 the card is `queued` until the record says otherwise (an `awaiting_upload` record is still in
 * flight between S3 and the queue). Questions live on the card and can be asked once it is `done`.
 * A finished card (done or failed) can be deleted: `deletion` tracks the DELETE call; once it succeeds
 * the page removes the card, so there is no "deleted" state.
 */
import { type CardError, retryPlan } from './errors.js';
import type { ImageStatus } from '../api/schemas.js';

export interface FileInfo {
  readonly name: string;
  readonly size: number;
  readonly type: string;
}

export interface CaptionResult {
  readonly caption: string;
  readonly model: string | null;
  /** Model time for this caption (null when the record does not say). */
  readonly inferenceMs: number | null;
  /** From the upload request to the caption. */
  readonly totalMs: number | null;
  /** The caption was reused from an earlier upload of the same bytes. */
  readonly cacheHit: boolean;
}

export type CardPhase =
  | { readonly tag: 'selected' }
  | { readonly tag: 'requesting' }
  | { readonly tag: 'uploading'; readonly loaded: number; readonly total: number }
  | { readonly tag: 'queued' }
  | { readonly tag: 'processing' }
  | ({ readonly tag: 'done' } & CaptionResult)
  | { readonly tag: 'failed'; readonly error: CardError }
  | { readonly tag: 'upload_error'; readonly error: CardError };

export type PhaseTag = CardPhase['tag'];

export type QuestionPhase =
  | { readonly tag: 'asking' }
  | { readonly tag: 'pending' }
  | { readonly tag: 'answered'; readonly answer: string }
  | { readonly tag: 'failed'; readonly error: CardError };

export interface QuestionState {
  readonly key: string;
  readonly question: string;
  readonly questionId: string | null;
  readonly phase: QuestionPhase;
}

export type DeletionState =
  | { readonly tag: 'idle' }
  | { readonly tag: 'deleting' }
  | { readonly tag: 'failed'; readonly error: CardError };

export interface CardState {
  readonly key: string;
  readonly file: FileInfo;
  readonly prompt: string | null;
  /** Set once POST /v1/uploads answered; a retry that re-uploads replaces it. */
  readonly imageId: string | null;
  /** Whether the bytes of the current attempt reached S3. */
  readonly transferred: boolean;
  /** 1 for the first attempt, +1 per retry. */
  readonly attempt: number;
  readonly phase: CardPhase;
  readonly questions: readonly QuestionState[];
  readonly deletion: DeletionState;
}

/** What the record (GET /v1/images/{id}) said, reduced to what the card needs. */
export type RecordUpdate =
  | { readonly status: Exclude<ImageStatus, 'done' | 'failed'> }
  | ({ readonly status: 'done' } & CaptionResult)
  | { readonly status: 'failed'; readonly reasonCode: string; readonly reason: string };

export type CardEvent =
  | { readonly type: 'rejected'; readonly error: CardError }
  | { readonly type: 'upload_requested' }
  | { readonly type: 'upload_created'; readonly imageId: string }
  | { readonly type: 'upload_progress'; readonly loaded: number; readonly total: number }
  | { readonly type: 'upload_finished' }
  | { readonly type: 'record'; readonly record: RecordUpdate }
  | { readonly type: 'error'; readonly error: CardError }
  | { readonly type: 'retry' }
  | { readonly type: 'question_asked'; readonly key: string; readonly question: string }
  | { readonly type: 'question_accepted'; readonly key: string; readonly questionId: string }
  | { readonly type: 'question_answered'; readonly key: string; readonly answer: string }
  | { readonly type: 'question_failed'; readonly key: string; readonly error: CardError }
  | { readonly type: 'delete_requested' }
  | { readonly type: 'delete_failed'; readonly error: CardError };

export function createCard(key: string, file: FileInfo, prompt: string | null = null): CardState {
  return {
    key,
    file,
    prompt: prompt !== null && prompt.trim() !== '' ? prompt.trim() : null,
    imageId: null,
    transferred: false,
    attempt: 1,
    phase: { tag: 'selected' },
    questions: [],
    deletion: { tag: 'idle' },
  };
}

/** Phases in which an upload attempt is in flight (an `error` event applies to them). */
const ACTIVE: ReadonlySet<PhaseTag> = new Set(['requesting', 'uploading', 'queued', 'processing']);

export function isActive(state: CardState): boolean {
  return ACTIVE.has(state.phase.tag);
}

/** Whether the controller should keep asking the API for this card's record. */
export function needsStatus(state: CardState): boolean {
  return state.transferred && (state.phase.tag === 'queued' || state.phase.tag === 'processing');
}

export function canRetry(state: CardState): boolean {
  return retryTarget(state) !== null;
}

function retryTarget(state: CardState): 'requesting' | 'queued' | null {
  const { phase } = state;
  if (phase.tag !== 'upload_error' && phase.tag !== 'failed') return null;
  const plan = retryPlan(phase.error, state.transferred && state.imageId !== null);
  if (plan === 'upload') return 'requesting';
  if (plan === 'status') return 'queued';
  return null;
}

export function canAsk(state: CardState): boolean {
  return state.phase.tag === 'done' && state.imageId !== null && state.deletion.tag !== 'deleting';
}

/** A finished card whose image reached the API can be deleted there (not while a delete is under way). */
export function canDelete(state: CardState): boolean {
  const finished = state.phase.tag === 'done' || state.phase.tag === 'failed';
  return finished && state.imageId !== null && state.transferred && state.deletion.tag !== 'deleting';
}

export function cardReducer(state: CardState, event: CardEvent): CardState {
  const { phase } = state;
  switch (event.type) {
    case 'rejected':
      return phase.tag === 'selected' ? { ...state, phase: { tag: 'upload_error', error: event.error } } : state;

    case 'upload_requested':
      return phase.tag === 'selected' ? { ...state, phase: { tag: 'requesting' } } : state;

    case 'upload_created':
      if (phase.tag !== 'requesting') return state;
      return {
        ...state,
        imageId: event.imageId,
        transferred: false,
        phase: { tag: 'uploading', loaded: 0, total: state.file.size },
      };

    case 'upload_progress': {
      if (phase.tag !== 'uploading') return state;
      const total = event.total > 0 ? event.total : phase.total;
      // Progress only moves forward and never past the total.
      const loaded = Math.min(total, Math.max(phase.loaded, event.loaded));
      if (loaded === phase.loaded && total === phase.total) return state;
      return { ...state, phase: { tag: 'uploading', loaded, total } };
    }

    case 'upload_finished':
      if (phase.tag !== 'uploading') return state;
      return { ...state, transferred: true, phase: { tag: 'queued' } };

    case 'record':
      if (!needsStatus(state)) return state;
      return applyRecord(state, event.record);

    case 'error':
      return ACTIVE.has(phase.tag) ? { ...state, phase: { tag: 'upload_error', error: event.error } } : state;

    case 'retry': {
      const target = retryTarget(state);
      if (target === null) return state;
      if (target === 'queued') return { ...state, phase: { tag: 'queued' } };
      return { ...state, imageId: null, transferred: false, attempt: state.attempt + 1, phase: { tag: 'requesting' } };
    }

    case 'question_asked': {
      const question = event.question.trim();
      if (!canAsk(state) || question === '' || state.questions.some((q) => q.key === event.key)) return state;
      const asked: QuestionState = { key: event.key, question, questionId: null, phase: { tag: 'asking' } };
      return { ...state, questions: [...state.questions, asked] };
    }

    case 'question_accepted':
      return updateQuestion(state, event.key, (q) =>
        q.phase.tag === 'asking' ? { ...q, questionId: event.questionId, phase: { tag: 'pending' } } : q,
      );

    case 'question_answered':
      return updateQuestion(state, event.key, (q) =>
        q.phase.tag === 'pending' ? { ...q, phase: { tag: 'answered', answer: event.answer } } : q,
      );

    case 'question_failed':
      return updateQuestion(state, event.key, (q) =>
        q.phase.tag === 'asking' || q.phase.tag === 'pending' ? { ...q, phase: { tag: 'failed', error: event.error } } : q,
      );

    case 'delete_requested':
      return canDelete(state) ? { ...state, deletion: { tag: 'deleting' } } : state;

    case 'delete_failed':
      return state.deletion.tag === 'deleting' ? { ...state, deletion: { tag: 'failed', error: event.error } } : state;
  }
}

function applyRecord(state: CardState, record: RecordUpdate): CardState {
  switch (record.status) {
    case 'awaiting_upload':
    case 'queued':
      // Still waiting; and a record never goes back, so a late `queued` after `processing` is ignored.
      return state;
    case 'processing':
      return state.phase.tag === 'processing' ? state : { ...state, phase: { tag: 'processing' } };
    case 'done':
      return {
        ...state,
        phase: {
          tag: 'done',
          caption: record.caption,
          model: record.model,
          inferenceMs: record.inferenceMs,
          totalMs: record.totalMs,
          cacheHit: record.cacheHit,
        },
      };
    case 'failed':
      return {
        ...state,
        phase: {
          tag: 'failed',
          error: { code: 'caption_failed', reasonCode: record.reasonCode, detail: record.reason },
        },
      };
  }
}

function updateQuestion(
  state: CardState,
  key: string,
  update: (q: QuestionState) => QuestionState,
): CardState {
  let changed = false;
  const questions = state.questions.map((q) => {
    if (q.key !== key) return q;
    const next = update(q);
    if (next !== q) changed = true;
    return next;
  });
  return changed ? { ...state, questions } : state;
}

/** Upload progress as a fraction in [0, 1] (1 once the bytes are in S3), or null before the upload. */
export function uploadFraction(state: CardState): number | null {
  const { phase } = state;
  if (phase.tag === 'uploading') return phase.total > 0 ? phase.loaded / phase.total : 0;
  if (state.transferred) return 1;
  return null;
}

/** Turns an API image record into the card's view of it (pure). */
import { captionText, type ImageRecord, type QuestionRecord } from '../api/schemas.js';
import type { RecordUpdate } from './card.js';

function timestamp(value: string | number | undefined): number | null {
  if (value === undefined) return null;
  const ms = typeof value === 'number' ? value : Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

function finite(value: number | undefined): number | null {
  return value !== undefined && Number.isFinite(value) && value >= 0 ? value : null;
}

export function toRecordUpdate(record: ImageRecord): RecordUpdate {
  switch (record.status) {
    case 'awaiting_upload':
    case 'queued':
    case 'processing':
      return { status: record.status };
    case 'failed':
      return {
        status: 'failed',
        reasonCode: record.error?.code ?? 'unknown',
        reason: record.error?.message ?? record.error?.code ?? 'no reason given',
      };
    case 'done': {
      const caption = captionText(record.caption);
      if (caption === null) {
        return { status: 'failed', reasonCode: 'no_caption', reason: 'the record is done but has no caption' };
      }
      const timings = record.timingsMs ?? {};
      const created = timestamp(record.createdAt);
      const updated = timestamp(record.updatedAt);
      const elapsed = created !== null && updated !== null && updated >= created ? updated - created : null;
      return {
        status: 'done',
        caption,
        model: record.model ?? null,
        inferenceMs: finite(timings['inferenceMs']) ?? finite(record.durationMs ?? undefined),
        totalMs: finite(timings['totalMs']) ?? elapsed,
        cacheHit: record.cacheHit === true,
      };
    }
  }
}

export type QuestionUpdate =
  | { readonly status: 'pending' }
  | { readonly status: 'done'; readonly answer: string }
  | { readonly status: 'failed'; readonly reasonCode: string; readonly reason: string };

export function toQuestionUpdate(record: QuestionRecord): QuestionUpdate {
  if (record.status === 'done') {
    const answer = captionText(record.answer);
    if (answer !== null) return { status: 'done', answer };
    return { status: 'failed', reasonCode: 'no_answer', reason: 'the question is done but has no answer' };
  }
  if (record.status === 'failed') {
    return {
      status: 'failed',
      reasonCode: record.error?.code ?? 'unknown',
      reason: record.error?.message ?? record.error?.code ?? 'no reason given',
    };
  }
  return { status: 'pending' };
}

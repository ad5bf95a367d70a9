import { IMAGE_INPUT_REASONS } from '../../../core/failure-reasons.js';
import type { FailureReason } from '../../../core/records.js';

/**
 * What went wrong with a card, as data (the words come from messages.ts), and whether a retry helps.
 */
export type CardErrorCode =
  | 'too_large'
  | 'not_an_image'
  | 'upload_expired'
  | 'upload_failed'
  | 'caption_failed'
  | 'question_failed'
  | 'api_unreachable'
  | 'api_error'
  | 'not_found'
  | 'unauthorized';

export interface CardError {
  readonly code: CardErrorCode;
  /** The failure reason in the API's or S3's words (record `error.message`, S3 `<Message>`, ...). */
  readonly detail?: string;
  /** The record's `error.code` for `caption_failed`/`question_failed`, S3's `<Code>` for upload errors. */
  readonly reasonCode?: string;
  readonly sizeBytes?: number;
  readonly limitBytes?: number;
}

/**
 * Record failure reasons (services/core/records.ts) that describe the file itself: uploading the same
 * bytes again cannot help. The others (object_missing, processing_error, ...) are worth a retry.
 */
const PERMANENT_REASONS: ReadonlySet<string> = new Set<FailureReason>(IMAGE_INPUT_REASONS);

/**
 * How to retry after `error`: `'upload'` asks for a fresh presigned upload and sends the bytes again,
 * `'status'` resumes watching the record already created (the bytes are in S3), null when a retry
 * cannot help (the file is too large or not an image).
 */
export function retryPlan(error: CardError, transferred: boolean): 'upload' | 'status' | null {
  switch (error.code) {
    case 'too_large':
    case 'not_an_image':
    case 'question_failed':
      return null;
    case 'caption_failed':
      return error.reasonCode !== undefined && PERMANENT_REASONS.has(error.reasonCode) ? null : 'upload';
    case 'api_unreachable':
    case 'api_error':
    case 'unauthorized':
      return transferred ? 'status' : 'upload';
    case 'upload_expired':
    case 'upload_failed':
    case 'not_found':
      return 'upload';
  }
}

/** Whether a caption failure's reason means the file is not a usable image. */
const NOT_AN_IMAGE_REASONS: ReadonlySet<string> = new Set<FailureReason>([
  'empty',
  'not_an_image',
  'unsupported_format',
  'truncated',
  'corrupt',
]);

export function isNotAnImageReason(reasonCode: string | undefined): boolean {
  return reasonCode !== undefined && NOT_AN_IMAGE_REASONS.has(reasonCode);
}

/** The words the page shows for each card state and error (pure, so they are unit-tested). */
import { formatBytes, formatDuration, formatPercent } from '../format.js';
import type { CaptionResult, CardState, QuestionState } from './card.js';
import { type CardError, isNotAnImageReason } from './errors.js';

export function errorMessage(error: CardError): string {
  const detail = error.detail !== undefined && error.detail.trim() !== '' ? error.detail.trim() : null;
  switch (error.code) {
    case 'too_large': {
      const size = error.sizeBytes !== undefined ? ` (${formatBytes(error.sizeBytes)})` : '';
      const limit = error.limitBytes !== undefined ? `: the limit is ${formatBytes(error.limitBytes)}` : '';
      return `Too large${size}${limit}.`;
    }
    case 'not_an_image':
      return detail !== null
        ? `Not an image: ${detail}`
        : 'Not an image: this file is not in a picture format the service reads (JPEG, PNG, WebP, AVIF, GIF, TIFF).';
    case 'upload_expired':
      return 'Upload expired: the upload link ran out before the file was sent. Retry for a fresh link.';
    case 'upload_failed':
      return `Upload failed${detail !== null ? `: ${detail}` : '.'}`;
    case 'caption_failed': {
      const prefix = isNotAnImageReason(error.reasonCode) ? 'Caption failed (not an image)' : 'Caption failed';
      return `${prefix}: ${detail ?? error.reasonCode ?? 'no reason given'}`;
    }
    case 'question_failed':
      return `No answer: ${detail ?? error.reasonCode ?? 'the question could not be answered'}`;
    case 'api_unreachable':
      return 'API unreachable: the service did not answer. Check the connection, then retry.';
    case 'api_error':
      return `The API refused the request${detail !== null ? `: ${detail}` : '.'}`;
    case 'not_found':
      return 'The image record is gone (expired or deleted). Retry to upload again.';
    case 'unauthorized':
      return 'Not signed in (the sign-in ended or was refused): sign in again, then retry.';
  }
}

/** The one-line status under the file name. */
export function statusText(state: CardState): string {
  const { phase, deletion } = state;
  if (deletion.tag === 'deleting') return 'Deleting…';
  if (deletion.tag === 'failed') return `Delete failed: ${errorMessage(deletion.error)}`;
  switch (phase.tag) {
    case 'selected':
      return 'Selected';
    case 'requesting':
      return 'Preparing upload…';
    case 'uploading':
      return 'Uploading…';
    case 'queued':
      return 'Uploaded · queued for captioning';
    case 'processing':
      return 'Processing · the model is writing a caption';
    case 'done':
      return 'Done';
    case 'failed':
    case 'upload_error':
      return errorMessage(phase.error);
  }
}

/** "42% · 120 KB of 286 KB" beside the progress bar (not announced: the status line is). */
export function progressText(state: CardState): string {
  const { phase } = state;
  if (phase.tag === 'uploading') {
    const fraction = phase.total > 0 ? phase.loaded / phase.total : 0;
    return `${formatPercent(fraction)} · ${formatBytes(phase.loaded)} of ${formatBytes(phase.total)}`;
  }
  if (state.transferred) return `100% · ${formatBytes(state.file.size)}`;
  return '';
}

/**
 * A model as people know it: a Hub id stays ("Salesforce/blip-image-captioning-base"), a local
 * checkpoint directory shows its folder name.
 */
export function modelLabel(model: string): string {
  const isPath = model.startsWith('/') || model.startsWith('.') || model.includes('\\') || /^[A-Za-z]:/.test(model);
  if (!isPath) return model;
  const parts = model.split(/[\\/]/).filter((part) => part !== '');
  return parts.at(-1) ?? model;
}

/** "by Salesforce/blip-image-captioning-base · model 180 ms · 2.4 s from upload" */
export function captionMeta(result: CaptionResult): string {
  const parts: string[] = [];
  if (result.model !== null && result.model !== '') parts.push(`by ${modelLabel(result.model)}`);
  if (result.cacheHit) parts.push('reused from an earlier upload of the same image');
  else if (result.inferenceMs !== null) parts.push(`model ${formatDuration(result.inferenceMs)}`);
  if (result.totalMs !== null) parts.push(`${formatDuration(result.totalMs)} from upload`);
  return parts.join(' · ');
}

export function questionStatusText(question: QuestionState): string {
  switch (question.phase.tag) {
    case 'asking':
      return 'Sending…';
    case 'pending':
      return 'Waiting for the answer…';
    case 'answered':
      return question.phase.answer !== '' ? question.phase.answer : '(empty answer)';
    case 'failed':
      return errorMessage(question.phase.error);
  }
}

import { describe, expect, it } from 'vitest';
import {
  type CardEvent,
  type CardState,
  canAsk,
  canDelete,
  canRetry,
  cardReducer,
  createCard,
  needsStatus,
  uploadFraction,
} from '../../services/web/src/state/card.js';

const file = { name: 'cat.jpg', size: 1000, type: 'image/jpeg' };
const done = {
  status: 'done',
  caption: 'a cat on a sofa',
  model: 'blip-tiny-captioning',
  inferenceMs: 120,
  totalMs: 900,
  cacheHit: false,
} as const;

function run(state: CardState, ...events: CardEvent[]): CardState {
  return events.reduce(cardReducer, state);
}

function uploaded(): CardState {
  return run(
    createCard('1', file),
    { type: 'upload_requested' },
    { type: 'upload_created', imageId: 'img-1' },
    { type: 'upload_progress', loaded: 1000, total: 1000 },
    { type: 'upload_finished' },
  );
}

describe('card state machine', () => {
  it('goes selected → requesting → uploading → queued → processing → done', () => {
    let state = createCard('1', file, '  a picture of ');
    expect(state.phase.tag).toBe('selected');
    expect(state.prompt).toBe('a picture of');
    state = cardReducer(state, { type: 'upload_requested' });
    expect(state.phase.tag).toBe('requesting');
    state = cardReducer(state, { type: 'upload_created', imageId: 'img-1' });
    expect(state.phase).toEqual({ tag: 'uploading', loaded: 0, total: 1000 });
    expect(state.imageId).toBe('img-1');
    state = cardReducer(state, { type: 'upload_progress', loaded: 400, total: 1000 });
    expect(uploadFraction(state)).toBe(0.4);
    state = cardReducer(state, { type: 'upload_finished' });
    expect(state.phase.tag).toBe('queued');
    expect(uploadFraction(state)).toBe(1);
    expect(needsStatus(state)).toBe(true);
    state = cardReducer(state, { type: 'record', record: { status: 'processing' } });
    expect(state.phase.tag).toBe('processing');
    state = cardReducer(state, { type: 'record', record: done });
    expect(state.phase).toEqual({
      tag: 'done',
      caption: 'a cat on a sofa',
      model: 'blip-tiny-captioning',
      inferenceMs: 120,
      totalMs: 900,
      cacheHit: false,
    });
    expect(needsStatus(state)).toBe(false);
    expect(canAsk(state)).toBe(true);
    expect(canRetry(state)).toBe(false);
  });

  it('keeps upload progress monotonic and within the total', () => {
    let state = run(createCard('1', file), { type: 'upload_requested' }, { type: 'upload_created', imageId: 'i' });
    state = cardReducer(state, { type: 'upload_progress', loaded: 600, total: 1000 });
    const same = cardReducer(state, { type: 'upload_progress', loaded: 300, total: 1000 });
    expect(same).toBe(state);
    state = cardReducer(state, { type: 'upload_progress', loaded: 5000, total: 1000 });
    expect(state.phase).toEqual({ tag: 'uploading', loaded: 1000, total: 1000 });
  });

  it('treats an awaiting_upload or late queued record as still queued, and never goes back from processing', () => {
    let state = uploaded();
    expect(cardReducer(state, { type: 'record', record: { status: 'awaiting_upload' } })).toBe(state);
    state = cardReducer(state, { type: 'record', record: { status: 'processing' } });
    expect(cardReducer(state, { type: 'record', record: { status: 'queued' } }).phase.tag).toBe('processing');
  });

  it('ignores records before the bytes are in S3 and after the card is finished', () => {
    const uploading = run(createCard('1', file), { type: 'upload_requested' }, { type: 'upload_created', imageId: 'i' });
    expect(cardReducer(uploading, { type: 'record', record: done })).toBe(uploading);
    const finished = cardReducer(uploaded(), { type: 'record', record: done });
    expect(cardReducer(finished, { type: 'record', record: { status: 'processing' } })).toBe(finished);
  });

  it('rejects a file before upload without a retry when it is too large or not an image', () => {
    const tooLarge = cardReducer(createCard('1', file), {
      type: 'rejected',
      error: { code: 'too_large', sizeBytes: 1000, limitBytes: 500 },
    });
    expect(tooLarge.phase.tag).toBe('upload_error');
    expect(canRetry(tooLarge)).toBe(false);
    expect(cardReducer(tooLarge, { type: 'retry' })).toBe(tooLarge);
    const notImage = cardReducer(createCard('2', file), { type: 'rejected', error: { code: 'not_an_image' } });
    expect(canRetry(notImage)).toBe(false);
  });

  it('retries an expired upload with a fresh presigned upload (new attempt, image id cleared)', () => {
    const failed = run(
      createCard('1', file),
      { type: 'upload_requested' },
      { type: 'upload_created', imageId: 'img-1' },
      { type: 'upload_progress', loaded: 10, total: 1000 },
      { type: 'error', error: { code: 'upload_expired' } },
    );
    expect(failed.phase.tag).toBe('upload_error');
    expect(canRetry(failed)).toBe(true);
    const retried = cardReducer(failed, { type: 'retry' });
    expect(retried.phase.tag).toBe('requesting');
    expect(retried.imageId).toBeNull();
    expect(retried.attempt).toBe(2);
    expect(retried.transferred).toBe(false);
  });

  it('resumes watching the record (no re-upload) when the API was unreachable after the bytes were sent', () => {
    const lost = cardReducer(uploaded(), { type: 'error', error: { code: 'api_unreachable' } });
    expect(lost.phase.tag).toBe('upload_error');
    const resumed = cardReducer(lost, { type: 'retry' });
    expect(resumed.phase.tag).toBe('queued');
    expect(resumed.imageId).toBe('img-1');
    expect(resumed.attempt).toBe(1);
    expect(needsStatus(resumed)).toBe(true);
  });

  it('re-uploads when the API was unreachable before the upload was created', () => {
    const state = run(createCard('1', file), { type: 'upload_requested' }, { type: 'error', error: { code: 'api_unreachable' } });
    expect(cardReducer(state, { type: 'retry' }).phase.tag).toBe('requesting');
  });

  it('offers a retry for a transient caption failure but not for a file that is not an image', () => {
    const transient = cardReducer(uploaded(), {
      type: 'record',
      record: { status: 'failed', reasonCode: 'inference_error', reason: 'worker crashed' },
    });
    expect(transient.phase).toEqual({
      tag: 'failed',
      error: { code: 'caption_failed', reasonCode: 'inference_error', detail: 'worker crashed' },
    });
    expect(canRetry(transient)).toBe(true);
    expect(cardReducer(transient, { type: 'retry' }).phase.tag).toBe('requesting');

    const notImage = cardReducer(uploaded(), {
      type: 'record',
      record: { status: 'failed', reasonCode: 'not_an_image', reason: 'not an image' },
    });
    expect(canRetry(notImage)).toBe(false);
  });

  it('ignores events that do not fit the current phase', () => {
    const selected = createCard('1', file);
    expect(cardReducer(selected, { type: 'upload_finished' })).toBe(selected);
    expect(cardReducer(selected, { type: 'upload_created', imageId: 'x' })).toBe(selected);
    expect(cardReducer(selected, { type: 'retry' })).toBe(selected);
    const finished = cardReducer(uploaded(), { type: 'record', record: done });
    expect(cardReducer(finished, { type: 'error', error: { code: 'api_unreachable' } })).toBe(finished);
  });

  it('tracks questions once the caption is done: asking → pending → answered | failed', () => {
    const notYet = uploaded();
    expect(cardReducer(notYet, { type: 'question_asked', key: 'q1', question: 'what?' })).toBe(notYet);

    let state = cardReducer(uploaded(), { type: 'record', record: done });
    state = cardReducer(state, { type: 'question_asked', key: 'q1', question: '  what color is it? ' });
    expect(state.questions).toEqual([{ key: 'q1', question: 'what color is it?', questionId: null, phase: { tag: 'asking' } }]);
    expect(cardReducer(state, { type: 'question_asked', key: 'q1', question: 'again' })).toBe(state);
    expect(cardReducer(state, { type: 'question_asked', key: 'q9', question: '   ' })).toBe(state);
    // An answer cannot arrive before the API accepted the question.
    expect(cardReducer(state, { type: 'question_answered', key: 'q1', answer: 'red' })).toBe(state);
    state = cardReducer(state, { type: 'question_accepted', key: 'q1', questionId: 'qid-1' });
    expect(state.questions[0]?.phase.tag).toBe('pending');
    state = cardReducer(state, { type: 'question_answered', key: 'q1', answer: 'red' });
    expect(state.questions[0]).toEqual({ key: 'q1', question: 'what color is it?', questionId: 'qid-1', phase: { tag: 'answered', answer: 'red' } });

    state = cardReducer(state, { type: 'question_asked', key: 'q2', question: 'how many?' });
    state = cardReducer(state, { type: 'question_failed', key: 'q2', error: { code: 'api_unreachable' } });
    expect(state.questions[1]?.phase).toEqual({ tag: 'failed', error: { code: 'api_unreachable' } });
    expect(state.questions[0]?.phase.tag).toBe('answered');
    expect(state.phase.tag).toBe('done');
  });

  it('deletes a finished card: idle → deleting → removed by the page, or failed and deletable again', () => {
    // Not before the image is finished: nothing to delete yet, or the upload is still under way.
    for (const early of [createCard('1', file), uploaded()]) {
      expect(canDelete(early)).toBe(false);
      expect(cardReducer(early, { type: 'delete_requested' })).toBe(early);
    }
    const finished = cardReducer(uploaded(), { type: 'record', record: done });
    expect(finished.deletion).toEqual({ tag: 'idle' });
    expect(canDelete(finished)).toBe(true);
    const deleting = cardReducer(finished, { type: 'delete_requested' });
    expect(deleting.deletion).toEqual({ tag: 'deleting' });
    // One delete at a time, and no questions about an image on its way out.
    expect(canDelete(deleting)).toBe(false);
    expect(cardReducer(deleting, { type: 'delete_requested' })).toBe(deleting);
    expect(canAsk(deleting)).toBe(false);
    const failed = cardReducer(deleting, { type: 'delete_failed', error: { code: 'api_error', detail: 'boom' } });
    expect(failed.deletion).toEqual({ tag: 'failed', error: { code: 'api_error', detail: 'boom' } });
    expect(failed.phase.tag).toBe('done');
    expect(canDelete(failed)).toBe(true);
    // A failure with no delete in flight changes nothing.
    expect(cardReducer(finished, { type: 'delete_failed', error: { code: 'api_error' } })).toBe(finished);

    const captionFailed = cardReducer(uploaded(), { type: 'record', record: { status: 'failed', reasonCode: 'corrupt', reason: 'bad bytes' } });
    expect(canDelete(captionFailed)).toBe(true);
  });
});

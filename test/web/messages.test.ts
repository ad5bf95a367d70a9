import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration, formatPercent } from '../../services/web/src/format.js';
import { cardReducer, createCard } from '../../services/web/src/state/card.js';
import {
  captionMeta,
  errorMessage,
  modelLabel,
  progressText,
  questionStatusText,
  statusText,
} from '../../services/web/src/state/messages.js';

describe('formatting', () => {
  it('formats sizes in decimal units', () => {
    expect(formatBytes(0)).toBe('0 bytes');
    expect(formatBytes(1)).toBe('1 byte');
    expect(formatBytes(999)).toBe('999 bytes');
    expect(formatBytes(1500)).toBe('1.5 KB');
    expect(formatBytes(200_000)).toBe('200 KB');
    expect(formatBytes(10_485_760)).toBe('10 MB');
    expect(formatBytes(-1)).toBe('?');
  });

  it('formats durations and percentages', () => {
    expect(formatDuration(42.4)).toBe('42 ms');
    expect(formatDuration(1500)).toBe('1.5 s');
    expect(formatDuration(12_000)).toBe('12 s');
    expect(formatDuration(125_000)).toBe('2 min 5 s');
    expect(formatPercent(0.999)).toBe('99%');
    expect(formatPercent(1)).toBe('100%');
    expect(formatPercent(3)).toBe('100%');
  });
});

describe('error wording', () => {
  it('says each error in words', () => {
    expect(errorMessage({ code: 'too_large', sizeBytes: 12_300_000, limitBytes: 10_485_760 })).toBe(
      'Too large (12 MB): the limit is 10 MB.',
    );
    expect(errorMessage({ code: 'too_large' })).toBe('Too large.');
    expect(errorMessage({ code: 'not_an_image' })).toMatch(/^Not an image: /);
    expect(errorMessage({ code: 'upload_expired' })).toMatch(/^Upload expired: .*Retry/);
    expect(errorMessage({ code: 'api_unreachable' })).toMatch(/^API unreachable/);
    expect(errorMessage({ code: 'caption_failed', reasonCode: 'inference_error', detail: 'out of memory' })).toBe(
      'Caption failed: out of memory',
    );
    expect(errorMessage({ code: 'caption_failed', reasonCode: 'not_an_image', detail: 'the file is text' })).toBe(
      'Caption failed (not an image): the file is text',
    );
    expect(errorMessage({ code: 'caption_failed', reasonCode: 'corrupt' })).toBe('Caption failed (not an image): corrupt');
    expect(errorMessage({ code: 'upload_failed', detail: 'SignatureDoesNotMatch' })).toBe('Upload failed: SignatureDoesNotMatch');
    expect(errorMessage({ code: 'question_failed', detail: 'no VQA model' })).toBe('No answer: no VQA model');
    expect(errorMessage({ code: 'not_found' })).toMatch(/gone/);
    expect(errorMessage({ code: 'api_error', detail: 'bad request' })).toBe('The API refused the request: bad request');
    expect(errorMessage({ code: 'unauthorized' })).toMatch(/^Not signed in .*sign in again/);
  });
});

describe('card texts', () => {
  const file = { name: 'a.png', size: 2000, type: 'image/png' };

  it('announces phases, not every byte', () => {
    let state = createCard('1', file);
    expect(statusText(state)).toBe('Selected');
    expect(progressText(state)).toBe('');
    state = cardReducer(state, { type: 'upload_requested' });
    state = cardReducer(state, { type: 'upload_created', imageId: 'i' });
    state = cardReducer(state, { type: 'upload_progress', loaded: 500, total: 2000 });
    expect(statusText(state)).toBe('Uploading…');
    expect(progressText(state)).toBe('25% · 500 bytes of 2 KB');
    state = cardReducer(state, { type: 'upload_finished' });
    expect(progressText(state)).toBe('100% · 2 KB');
    expect(statusText(state)).toMatch(/queued/);
    state = cardReducer(state, { type: 'record', record: { status: 'failed', reasonCode: 'x', reason: 'boom' } });
    expect(statusText(state)).toBe('Caption failed: boom');
  });

  it('says a delete is under way, or why it failed, instead of the phase', () => {
    let state = createCard('1', file);
    for (const event of [
      { type: 'upload_requested' },
      { type: 'upload_created', imageId: 'i' },
      { type: 'upload_finished' },
      { type: 'record', record: { status: 'done', caption: 'a cat', model: null, inferenceMs: null, totalMs: null, cacheHit: false } },
    ] as const) {
      state = cardReducer(state, event);
    }
    expect(statusText(state)).toBe('Done');
    state = cardReducer(state, { type: 'delete_requested' });
    expect(statusText(state)).toBe('Deleting…');
    state = cardReducer(state, { type: 'delete_failed', error: { code: 'api_unreachable' } });
    expect(statusText(state)).toMatch(/^Delete failed: API unreachable/);
  });

  it('describes the caption: model, model time, time from upload, cache hits', () => {
    const base = { caption: 'c', model: 'Salesforce/blip', inferenceMs: 180, totalMs: 2400, cacheHit: false };
    expect(captionMeta(base)).toBe('by Salesforce/blip · model 180 ms · 2.4 s from upload');
    expect(captionMeta({ ...base, cacheHit: true })).toBe(
      'by Salesforce/blip · reused from an earlier upload of the same image · 2.4 s from upload',
    );
    expect(captionMeta({ ...base, model: null, inferenceMs: null, totalMs: null })).toBe('');
    expect(captionMeta({ ...base, model: '/work/fixtures/blip-tiny-captioning/', totalMs: null })).toBe(
      'by blip-tiny-captioning · model 180 ms',
    );
  });

  it('labels models by Hub id or by checkpoint folder name', () => {
    expect(modelLabel('Salesforce/blip-image-captioning-base')).toBe('Salesforce/blip-image-captioning-base');
    expect(modelLabel('/opt/models/blip-large')).toBe('blip-large');
    expect(modelLabel('./models/tiny')).toBe('tiny');
    expect(modelLabel('C:\\models\\blip')).toBe('blip');
  });

  it('shows question progress and answers', () => {
    const q = { key: 'k', question: 'q', questionId: null };
    expect(questionStatusText({ ...q, phase: { tag: 'asking' } })).toBe('Sending…');
    expect(questionStatusText({ ...q, phase: { tag: 'pending' } })).toMatch(/Waiting/);
    expect(questionStatusText({ ...q, phase: { tag: 'answered', answer: 'two' } })).toBe('two');
    expect(questionStatusText({ ...q, phase: { tag: 'answered', answer: '' } })).toBe('(empty answer)');
    expect(questionStatusText({ ...q, phase: { tag: 'failed', error: { code: 'api_unreachable' } } })).toMatch(/unreachable/);
  });
});

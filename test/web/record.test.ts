import { describe, expect, it } from 'vitest';
import { ImageRecord, QuestionRecord } from '../../services/web/src/api/schemas.js';
import { toQuestionUpdate, toRecordUpdate } from '../../services/web/src/state/record.js';

const base = {
  imageId: '0190a0b0-0000-7000-8000-000000000001',
  model: 'blip-tiny-captioning',
  createdAt: '2026-11-27T13:00:00.000Z',
  updatedAt: '2026-11-27T13:00:02.500Z',
};

describe('image records', () => {
  it('validates the contract shape and passes unknown fields through', () => {
    const record = ImageRecord.parse({ ...base, status: 'queued', objectKey: 'uploads/x', extra: 1 });
    expect(record.status).toBe('queued');
    expect(ImageRecord.safeParse({ ...base, status: 'exploded' }).success).toBe(false);
    expect(ImageRecord.safeParse({ status: 'done' }).success).toBe(false);
  });

  it('maps a done record with timings', () => {
    const record = ImageRecord.parse({
      ...base,
      status: 'done',
      caption: 'a dog',
      timingsMs: { queueMs: 10, inferenceMs: 130, totalMs: 2000 },
      cacheHit: false,
    });
    expect(toRecordUpdate(record)).toEqual({
      status: 'done',
      caption: 'a dog',
      model: 'blip-tiny-captioning',
      inferenceMs: 130,
      totalMs: 2000,
      cacheHit: false,
    });
  });

  it('falls back to updatedAt - createdAt when the record has no timings', () => {
    const record = ImageRecord.parse({ ...base, status: 'done', caption: { text: 'a dog' }, cacheHit: true });
    expect(toRecordUpdate(record)).toEqual({
      status: 'done',
      caption: 'a dog',
      model: 'blip-tiny-captioning',
      inferenceMs: null,
      totalMs: 2500,
      cacheHit: true,
    });
  });

  it('maps failures with the record reason, and a done record without a caption to a failure', () => {
    const failed = ImageRecord.parse({ ...base, status: 'failed', error: { code: 'not_an_image', message: 'text/plain bytes' } });
    expect(toRecordUpdate(failed)).toEqual({ status: 'failed', reasonCode: 'not_an_image', reason: 'text/plain bytes' });
    const bare = ImageRecord.parse({ ...base, status: 'failed' });
    expect(toRecordUpdate(bare)).toEqual({ status: 'failed', reasonCode: 'unknown', reason: 'no reason given' });
    const empty = ImageRecord.parse({ ...base, status: 'done' });
    expect(toRecordUpdate(empty)).toMatchObject({ status: 'failed', reasonCode: 'no_caption' });
  });

  it('passes in-flight statuses through', () => {
    for (const status of ['awaiting_upload', 'queued', 'processing'] as const) {
      expect(toRecordUpdate(ImageRecord.parse({ ...base, status }))).toEqual({ status });
    }
  });
});

describe('question records', () => {
  it('maps pending, answered and failed questions', () => {
    expect(toQuestionUpdate(QuestionRecord.parse({ questionId: 'q', status: 'queued' }))).toEqual({ status: 'pending' });
    expect(toQuestionUpdate(QuestionRecord.parse({ questionId: 'q', status: 'processing' }))).toEqual({ status: 'pending' });
    expect(toQuestionUpdate(QuestionRecord.parse({ questionId: 'q', status: 'done', answer: 'two' }))).toEqual({
      status: 'done',
      answer: 'two',
    });
    expect(
      toQuestionUpdate(QuestionRecord.parse({ status: 'failed', error: { code: 'no_vqa_model', message: 'no VQA model configured' } })),
    ).toEqual({ status: 'failed', reasonCode: 'no_vqa_model', reason: 'no VQA model configured' });
    expect(toQuestionUpdate(QuestionRecord.parse({ status: 'done' }))).toMatchObject({ status: 'failed', reasonCode: 'no_answer' });
  });
});

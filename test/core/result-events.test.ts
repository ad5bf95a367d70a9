import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../services/core/paths.js';
import type { ImageRecord, QuestionRecord } from '../../services/core/records.js';
import {
  DETAIL_SCHEMAS,
  DETAIL_TYPES,
  imageDeletedEvent,
  imageResultEvent,
  parseEventEnvelope,
  questionResultEvent,
  resultEventsJsonSchema,
} from '../../services/core/result-events.js';

const at = '2026-12-03T08:00:00.000Z';
const image: ImageRecord = {
  imageId: 'img-1',
  owner: 'alice',
  status: 'done',
  model: 'blip-tiny',
  objectKey: 'uploads/img-1',
  caption: 'a cat on a mat',
  tokenIds: [30522, 1037],
  contentSha256: 'ab'.repeat(32),
  cacheHit: false,
  timingsMs: { queueMs: 5, inferenceMs: 40, totalMs: 60 },
  sequencer: '0'.repeat(14) + '0055AED6DCD90281E5',
  createdAt: at,
  updatedAt: at,
};

describe('result events', () => {
  it('the committed JSON Schema is the one generated from the zod schemas (npx tsx bin/write-events-schema.ts)', async () => {
    const committed: unknown = JSON.parse(await readFile(path.join(repoRoot, 'docs/events.schema.json'), 'utf8'));
    expect(committed).toEqual(resultEventsJsonSchema());
    expect(Object.keys((committed as { $defs: object }).$defs)).toEqual([...DETAIL_TYPES]);
  });

  it('an image result has the same event id however often it is built, and another id per sequencer or status', () => {
    const first = imageResultEvent(image, 'bucket', { precision: 'fp32' });
    const again = imageResultEvent({ ...image, updatedAt: '2026-12-03T09:00:00.000Z' }, 'bucket', { precision: 'fp32' });
    expect(first?.detailType).toBe('Image Captioned');
    expect(first?.detail.eventId).toBe(again?.detail.eventId);
    expect(imageResultEvent({ ...image, sequencer: '1'.repeat(32) }, 'bucket')?.detail.eventId).not.toBe(first?.detail.eventId);
    const failed = imageResultEvent({ ...image, status: 'failed', caption: undefined, error: { code: 'corrupt', message: 'internal detail /tmp/x' } }, 'bucket');
    expect(failed?.detailType).toBe('Image Failed');
    expect(failed?.detail.eventId).not.toBe(first?.detail.eventId);
    expect(failed?.detail).toMatchObject({ error: { code: 'corrupt', message: 'the image file is corrupt' } });
    expect(imageResultEvent({ ...image, status: 'processing' }, 'bucket')).toBeUndefined();
  });

  it('details validate against their schema and carry what a consumer needs', () => {
    const captioned = imageResultEvent(image, 'bucket', { precision: 'int8', modelKey: 'blip-tiny@int8@0123456789abcdef' });
    expect(captioned).toBeDefined();
    expect(DETAIL_SCHEMAS['Image Captioned'].parse(captioned!.detail)).toMatchObject({
      version: 1,
      imageId: 'img-1',
      object: { bucket: 'bucket', key: 'uploads/img-1' },
      owner: 'alice',
      caption: 'a cat on a mat',
      model: 'blip-tiny',
      precision: 'int8',
      timingsMs: { inferenceMs: 40 },
    });
    const dropped = imageResultEvent({ ...image, owner: undefined, objectKey: 'drops/x.jpg' }, 'bucket');
    expect(dropped?.detail).not.toHaveProperty('owner');
    const question: QuestionRecord = { questionId: 'q-1', imageId: 'img-1', owner: 'alice', question: 'what?', status: 'done', answer: 'a cat', model: 'vqa', createdAt: at, updatedAt: at };
    const answered = questionResultEvent(question, { bucket: 'bucket', key: 'uploads/img-1' });
    expect(answered?.detailType).toBe('Question Answered');
    expect(DETAIL_SCHEMAS['Question Answered'].parse(answered!.detail)).toMatchObject({ answer: 'a cat', questionId: 'q-1' });
    const failedQ = questionResultEvent({ ...question, status: 'failed', answer: undefined, error: { code: 'vqa_unavailable', message: 'x' } }, { bucket: 'bucket', key: 'k' });
    expect(failedQ?.detailType).toBe('Question Failed');
    expect(failedQ?.detail.eventId).not.toBe(answered?.detail.eventId);
    const deleted = imageDeletedEvent(image, 'bucket', 'api');
    expect(DETAIL_SCHEMAS['Image Deleted'].parse(deleted.detail)).toMatchObject({ status: 'deleted', reason: 'api' });
    expect(imageDeletedEvent(image, 'bucket', 'object_removed').detail.eventId).toBe(deleted.detail.eventId);
  });

  it('parses an EventBridge envelope and refuses a detail that does not fit its detail-type', () => {
    const event = imageResultEvent(image, 'bucket')!;
    const envelope = { version: '0', id: 'x', 'detail-type': event.detailType, source: 'blipline', account: '1', time: at, region: 'us-east-1', resources: [], detail: event.detail };
    expect(parseEventEnvelope(envelope).detail).toEqual(event.detail);
    expect(() => parseEventEnvelope({ ...envelope, 'detail-type': 'Question Answered' })).toThrow();
    expect(() => parseEventEnvelope({ ...envelope, source: 'other' })).toThrow();
  });
});

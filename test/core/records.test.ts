import { describe, expect, it } from 'vitest';
import { cachedImage, captionRecordSchema, imageRecordSchema, operatorImageView, ownerImageView, questionRecordSchema } from '../../services/core/records.js';

const now = '2026-11-27T12:00:00.000Z';

describe('records', () => {
  it('accepts a finished image record; the owner sees no storage or cross-owner fields, the operator no storage fields', () => {
    const record = imageRecordSchema.parse({
      imageId: 'i',
      status: 'done',
      model: 'm',
      objectKey: 'uploads/i',
      caption: 'a cat',
      tokenIds: [30522, 1037, 4937, 102],
      sequencer: '0'.repeat(32),
      owner: 'alice',
      cacheHit: true,
      timingsMs: { inferenceMs: 0 },
      captionKey: 'caption#m#x',
      questionIds: ['q'],
      createdAt: now,
      updatedAt: now,
    });
    expect(cachedImage(record)).not.toHaveProperty('sequencer');
    expect(cachedImage(record)).toMatchObject({ owner: 'alice' });
    const owner = ownerImageView(cachedImage(record));
    expect(owner).toMatchObject({ caption: 'a cat', status: 'done' });
    expect(Object.keys(owner).filter((k) => ['owner', 'objectKey', 'cacheHit', 'timingsMs', 'captionKey', 'questionIds', 'sequencer'].includes(k))).toEqual([]);
    const operator = operatorImageView(cachedImage(record));
    expect(operator).toMatchObject({ cacheHit: true, objectKey: 'uploads/i' });
    expect(operator).not.toHaveProperty('captionKey');
  });

  it('rejects unknown statuses and failure reasons', () => {
    const base = { imageId: 'i', model: 'm', objectKey: 'k', createdAt: now, updatedAt: now };
    expect(imageRecordSchema.safeParse({ ...base, status: 'lost' }).success).toBe(false);
    expect(imageRecordSchema.safeParse({ ...base, status: 'failed', error: { code: 'whatever', message: 'x' } }).success).toBe(false);
    expect(imageRecordSchema.safeParse({ ...base, status: 'failed', error: { code: 'too_many_pixels', message: 'x' } }).success).toBe(true);
  });

  it('tells pending caption claims from finished captions', () => {
    expect(captionRecordSchema.parse({ state: 'pending', model: 'm', contentSha256: 's', owner: 'w', leaseUntil: 1 }).state).toBe('pending');
    expect(captionRecordSchema.safeParse({ state: 'done', model: 'm', contentSha256: 's' }).success).toBe(false);
    expect(questionRecordSchema.safeParse({ questionId: 'q', imageId: 'i', question: '?', status: 'done', answer: 'yes', createdAt: now, updatedAt: now }).success).toBe(true);
  });
});

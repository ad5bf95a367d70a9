import { describe, expect, it } from 'vitest';
import { parseQueueMessage } from '../../services/core/index.js';

const record = (key: string, extra: Record<string, unknown> = {}) => ({
  eventVersion: '2.1',
  eventSource: 'aws:s3',
  awsRegion: 'us-east-1',
  eventTime: '2026-11-27T12:00:00.000Z',
  eventName: 'ObjectCreated:Put',
  s3: { bucket: { name: 'b' }, object: { key, size: 12, eTag: 'e', sequencer: '0055AED6DCD90281E5', ...extra } },
});

describe('parseQueueMessage', () => {
  it('reads ObjectCreated records with decoded keys', () => {
    const parsed = parseQueueMessage(JSON.stringify({ Records: [record('my+photos/%C3%A9t%C3%A9+2024.jpg')] }));
    expect(parsed.type).toBe('objects');
    if (parsed.type !== 'objects') return;
    expect(parsed.objects[0]).toMatchObject({ bucket: 'b', key: 'my photos/été 2024.jpg', size: 12 });
    expect(parsed.objects[0]!.sequencer).toHaveLength(32);
    expect(parsed.objects[0]!.eventTime.toISOString()).toBe('2026-11-27T12:00:00.000Z');
  });

  it('recognises s3:TestEvent and question jobs', () => {
    expect(parseQueueMessage(JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Time: 'x', Bucket: 'b', RequestId: 'r', HostId: 'h' })).type).toBe('test');
    expect(parseQueueMessage(JSON.stringify({ type: 'question', imageId: 'i', questionId: 'q' }))).toEqual({ type: 'question', job: { type: 'question', imageId: 'i', questionId: 'q' } });
  });

  it('ignores other event kinds and rejects junk with a reason', () => {
    const restored = { ...record('k'), eventName: 'ObjectRestore:Completed' };
    expect(parseQueueMessage(JSON.stringify({ Records: [restored] }))).toEqual({ type: 'objects', objects: [], removed: [], ignored: 1, invalid: [] });
    const removed = { ...record('k'), eventName: 'ObjectRemoved:Delete' };
    expect(parseQueueMessage(JSON.stringify({ Records: [removed] }))).toMatchObject({ type: 'objects', objects: [], removed: [{ key: 'k' }], ignored: 0 });
    expect(parseQueueMessage('not json')).toEqual({ type: 'invalid', reason: 'body is not JSON' });
    const junk = parseQueueMessage(JSON.stringify({ hello: 'world' }));
    expect(junk.type).toBe('invalid');
    const badSeq = parseQueueMessage(JSON.stringify({ Records: [record('k', { sequencer: 'zz' })] }));
    expect(badSeq).toMatchObject({ type: 'invalid' });
    const extraQuestionField = parseQueueMessage(JSON.stringify({ type: 'question', imageId: 'i', questionId: 'q', extra: 1 }));
    expect(extraQuestionField.type).toBe('invalid');
  });

  it('keeps the good records of an event when one record is bad, and says why the bad one is', () => {
    const parsed = parseQueueMessage(JSON.stringify({ Records: [record('good.jpg'), record('bad%E0%A4%A.jpg'), { eventSource: 'aws:s3' }, record('also+good.png')] }));
    expect(parsed.type).toBe('objects');
    if (parsed.type !== 'objects') return;
    expect(parsed.objects.map((o) => o.key)).toEqual(['good.jpg', 'also good.png']);
    expect(parsed.invalid.map((i) => [i.index, i.rawKey])).toEqual([
      [1, 'bad%E0%A4%A.jpg'],
      [2, undefined],
    ]);
    expect(parsed.invalid[0]!.reason).toContain('percent-encoding');
  });
});

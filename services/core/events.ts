import { z } from 'zod';
import { decodeS3EventKey, normalizeSequencer } from './keys.js';

/** One record of an S3 event notification (the fields the worker needs; extra fields are allowed). */
export const s3EventRecordSchema = z.object({
  eventSource: z.literal('aws:s3'),
  eventName: z.string(),
  eventTime: z.iso.datetime({ offset: true }),
  s3: z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z.object({
      key: z.string().min(1),
      size: z.number().int().nonnegative().optional(),
      eTag: z.string().optional(),
      sequencer: z.string().optional(),
    }),
  }),
});

/** The envelope only: each record is validated on its own, so one bad record does not sink the others. */
export const s3EventNotificationSchema = z.object({ Records: z.array(z.unknown()).min(1) });

/** Sent by S3 once when a notification configuration is created; carries nothing to do. */
export const s3TestEventSchema = z.object({ Event: z.literal('s3:TestEvent'), Service: z.string().optional(), Bucket: z.string().optional() });

/** A VQA job queued by POST /v1/images/{imageId}/questions. */
export const questionJobSchema = z.object({ type: z.literal('question'), imageId: z.string().min(1), questionId: z.string().min(1) }).strict();
export type QuestionJob = z.infer<typeof questionJobSchema>;

/** An object-created event, decoded: the key is the real key, the sequencer normalised. */
export interface ObjectCreated {
  bucket: string;
  key: string;
  size: number | undefined;
  eTag: string | undefined;
  sequencer: string;
  eventTime: Date;
}

/** An object-removed event of a key (ObjectRemoved:*, LifecycleExpiration:Delete), decoded. */
export interface ObjectRemoved {
  bucket: string;
  key: string;
  sequencer: string;
  eventTime: Date;
}

/** Event names that mean the object under the key is gone. */
const isRemoval = (eventName: string) => eventName.startsWith('ObjectRemoved:Delete') || eventName === 'LifecycleExpiration:Delete';

/** A record of an S3 event that cannot be processed (schema, sequencer or key encoding), with why. */
export interface InvalidRecord {
  index: number;
  /** The raw key when the record has one (for logs). */
  rawKey: string | undefined;
  reason: string;
}

export type QueueMessage =
  | { type: 'objects'; objects: ObjectCreated[]; removed: ObjectRemoved[]; ignored: number; invalid: InvalidRecord[] }
  | { type: 'test' }
  | { type: 'question'; job: QuestionJob }
  | { type: 'invalid'; reason: string };

/**
 * Parses an SQS message body: an S3 event notification (ObjectCreated and ObjectRemoved records are kept,
 * other event kinds counted as ignored; records that cannot be read listed in `invalid` with a reason, without
 * affecting the others), an `s3:TestEvent`, or a question job. Anything else is `invalid` with a reason.
 */
export function parseQueueMessage(body: string): QueueMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { type: 'invalid', reason: 'body is not JSON' };
  }
  const test = s3TestEventSchema.safeParse(json);
  if (test.success) return { type: 'test' };
  const question = questionJobSchema.safeParse(json);
  if (question.success) return { type: 'question', job: question.data };
  const event = s3EventNotificationSchema.safeParse(json);
  if (!event.success) {
    return { type: 'invalid', reason: `not an S3 event, s3:TestEvent or question job: ${z.prettifyError(event.error)}` };
  }
  const objects: ObjectCreated[] = [];
  const removed: ObjectRemoved[] = [];
  const invalid: InvalidRecord[] = [];
  let ignored = 0;
  event.data.Records.forEach((raw, index) => {
    const rawKey = (raw as { s3?: { object?: { key?: unknown } } } | null)?.s3?.object?.key;
    const bad = (reason: string) => invalid.push({ index, rawKey: typeof rawKey === 'string' ? rawKey : undefined, reason });
    const parsed = s3EventRecordSchema.safeParse(raw);
    if (!parsed.success) return bad(`not an S3 event record: ${z.prettifyError(parsed.error)}`);
    const record = parsed.data;
    const eventTime = new Date(record.eventTime);
    if (isRemoval(record.eventName)) {
      try {
        removed.push({
          bucket: record.s3.bucket.name,
          key: decodeS3EventKey(record.s3.object.key),
          sequencer: normalizeSequencer(record.s3.object.sequencer ?? eventTime.getTime().toString(16)),
          eventTime,
        });
      } catch (error) {
        bad((error as Error).message);
      }
      return;
    }
    if (!record.eventName.startsWith('ObjectCreated:')) {
      ignored += 1;
      return;
    }
    try {
      objects.push({
        bucket: record.s3.bucket.name,
        key: decodeS3EventKey(record.s3.object.key),
        size: record.s3.object.size,
        eTag: record.s3.object.eTag,
        sequencer: normalizeSequencer(record.s3.object.sequencer ?? eventTime.getTime().toString(16)),
        eventTime,
      });
    } catch (error) {
      bad((error as Error).message);
    }
  });
  // Nothing usable at all: the message as a whole is invalid.
  if (objects.length === 0 && removed.length === 0 && ignored === 0) return { type: 'invalid', reason: invalid.map((i) => `record ${i.index}: ${i.reason}`).join('; ') };
  return { type: 'objects', objects, removed, ignored, invalid };
}

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

export const s3EventNotificationSchema = z.object({ Records: z.array(s3EventRecordSchema).min(1) });

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

export type QueueMessage =
  | { type: 'objects'; objects: ObjectCreated[]; ignored: number }
  | { type: 'test' }
  | { type: 'question'; job: QuestionJob }
  | { type: 'invalid'; reason: string };

/**
 * Parses an SQS message body: an S3 event notification (ObjectCreated records are kept, other
 * event kinds counted as ignored), an `s3:TestEvent`, or a question job. Anything else is
 * `invalid` with a reason (such a message can never succeed).
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
  let ignored = 0;
  for (const record of event.data.Records) {
    if (!record.eventName.startsWith('ObjectCreated:')) {
      ignored += 1;
      continue;
    }
    const eventTime = new Date(record.eventTime);
    let sequencer: string;
    try {
      sequencer = normalizeSequencer(record.s3.object.sequencer ?? eventTime.getTime().toString(16));
    } catch (error) {
      return { type: 'invalid', reason: (error as Error).message };
    }
    let key: string;
    try {
      key = decodeS3EventKey(record.s3.object.key);
    } catch (error) {
      return { type: 'invalid', reason: (error as Error).message };
    }
    objects.push({
      bucket: record.s3.bucket.name,
      key,
      size: record.s3.object.size,
      eTag: record.s3.object.eTag,
      sequencer,
      eventTime,
    });
  }
  return { type: 'objects', objects, ignored };
}

import { v5 as uuidv5 } from 'uuid';
import { z } from 'zod';
import { FAILURE_MESSAGES, failureReasonSchema, type ImageRecord, type QuestionRecord } from './records.js';

/**
 * Results as events: one event per terminal result (caption, failure, answer, deletion), published on EventBridge
 * (source `blipline`) and delivered to webhooks. The `detail` is versioned (`version: 1`); its JSON Schema is
 * generated from these schemas (docs/events.schema.json, checked by test/core/result-events.test.ts).
 */
export const EVENT_SOURCE = 'blipline';
export const EVENT_DETAIL_VERSION = 1;

export const DETAIL_TYPES = ['Image Captioned', 'Image Failed', 'Question Answered', 'Question Failed', 'Image Deleted'] as const;
export const detailTypeSchema = z.enum(DETAIL_TYPES);
export type DetailType = z.infer<typeof detailTypeSchema>;

const objectRefSchema = z
  .object({ bucket: z.string().describe('S3 bucket'), key: z.string().describe('S3 object key (decoded)') })
  .describe('The image object in S3');

const errorSchema = z
  .object({ code: failureReasonSchema, message: z.string().describe('A fixed message per code (internal details stay in the logs)') })
  .describe('Why it failed');

const timingsSchema = z
  .object({
    queueMs: z.number().optional().describe('S3 event time to the worker accepting it'),
    inferenceMs: z.number().optional().describe('Model time (0 when the caption was reused)'),
    totalMs: z.number().optional().describe('S3 event time to the record being written'),
  })
  .describe('Milliseconds');

const base = {
  version: z.literal(EVENT_DETAIL_VERSION).describe('Version of this detail schema'),
  eventId: z.uuid().describe('Stable id of this result: the same on every retried delivery (de-duplicate by it)'),
  imageId: z.string(),
  object: objectRefSchema,
  owner: z.string().optional().describe('The owner (token subject) of an upload; absent for objects dropped into the bucket'),
  occurredAt: z.iso.datetime().describe('When the result was recorded'),
};

const model = {
  model: z.string().describe('Model name (directory or Hugging Face Hub id)'),
  modelKey: z.string().optional().describe('Model name, precision and checkpoint revision (first 16 hex digits of its sha256)'),
  precision: z.enum(['fp32', 'int8']).optional(),
};

export const imageCaptionedSchema = z.object({
  ...base,
  ...model,
  status: z.literal('done'),
  caption: z.string(),
  prompt: z.string().optional(),
  contentSha256: z.string().optional(),
  contentType: z.string().optional(),
  contentLength: z.number().int().optional(),
  cacheHit: z.boolean().optional().describe('The caption was reused from an identical earlier image of the same owner'),
  timingsMs: timingsSchema.optional(),
});

export const imageFailedSchema = z.object({ ...base, ...model, status: z.literal('failed'), error: errorSchema, timingsMs: timingsSchema.optional() });

const question = { questionId: z.string(), question: z.string() };

export const questionAnsweredSchema = z.object({ ...base, ...question, status: z.literal('done'), answer: z.string(), model: z.string() });

export const questionFailedSchema = z.object({ ...base, ...question, status: z.literal('failed'), error: errorSchema, model: z.string().optional() });

export const imageDeletedSchema = z.object({
  ...base,
  status: z.literal('deleted'),
  reason: z.enum(['api', 'object_removed']).describe('DELETE /v1/images/{id}, or the object was removed from the bucket'),
});

export const DETAIL_SCHEMAS = {
  'Image Captioned': imageCaptionedSchema,
  'Image Failed': imageFailedSchema,
  'Question Answered': questionAnsweredSchema,
  'Question Failed': questionFailedSchema,
  'Image Deleted': imageDeletedSchema,
} as const satisfies Record<DetailType, z.ZodType>;

export type ImageCaptioned = z.infer<typeof imageCaptionedSchema>;
export type ImageFailed = z.infer<typeof imageFailedSchema>;
export type QuestionAnswered = z.infer<typeof questionAnsweredSchema>;
export type QuestionFailed = z.infer<typeof questionFailedSchema>;
export type ImageDeleted = z.infer<typeof imageDeletedSchema>;

/** One result event: its detail-type and its detail, checked together. */
export const resultEventSchema = z.discriminatedUnion('detailType', [
  z.object({ detailType: z.literal('Image Captioned'), detail: imageCaptionedSchema }),
  z.object({ detailType: z.literal('Image Failed'), detail: imageFailedSchema }),
  z.object({ detailType: z.literal('Question Answered'), detail: questionAnsweredSchema }),
  z.object({ detailType: z.literal('Question Failed'), detail: questionFailedSchema }),
  z.object({ detailType: z.literal('Image Deleted'), detail: imageDeletedSchema }),
]);
export type ResultEvent = z.infer<typeof resultEventSchema>;

/**
 * The envelope EventBridge delivers to a target (an SQS queue, a Lambda); the local stack's events queue and the
 * webhooks carry the same shape. `id` is the bus's own id of one delivery; `detail.eventId` is the result's.
 */
export const eventEnvelopeSchema = z.object({
  version: z.literal('0'),
  id: z.string(),
  'detail-type': detailTypeSchema,
  source: z.literal(EVENT_SOURCE),
  account: z.string(),
  time: z.iso.datetime(),
  region: z.string(),
  resources: z.array(z.string()),
  detail: z.unknown(),
});
export type EventEnvelope = z.infer<typeof eventEnvelopeSchema>;

/** Parses an envelope and its detail against the schema of its detail-type. */
export function parseEventEnvelope(value: unknown): EventEnvelope & ResultEvent {
  const envelope = eventEnvelopeSchema.parse(value);
  const event = resultEventSchema.parse({ detailType: envelope['detail-type'], detail: envelope.detail });
  return { ...envelope, ...event };
}

/** The JSON Schema of the detail of every detail-type (committed as docs/events.schema.json). */
export function resultEventsJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'blipline result events (EventBridge detail, version 1)',
    description: 'Source "blipline". Each detail-type has its own detail schema, under $defs by detail-type.',
    $defs: Object.fromEntries(
      DETAIL_TYPES.map((type) => {
        const { $schema: _s, ...schema } = z.toJSONSchema(DETAIL_SCHEMAS[type], { io: 'input' }) as Record<string, unknown>;
        return [type, schema];
      }),
    ),
  };
}

/** Namespace of the event ids (UUIDv5): fixed forever, so ids stay the same across deployments. */
const EVENT_ID_NAMESPACE = '5f0c5d8e-6a1e-4f0e-9a57-3d1f7c2b8e41';

/** The stable id of one result: the same inputs (image, event sequencer or question, terminal status) give the same id. */
export function resultEventId(...parts: string[]): string {
  return uuidv5(parts.join('\u0000'), EVENT_ID_NAMESPACE);
}

/** What the events of an image's model carry besides its name. */
export interface ModelInfo {
  modelKey?: string;
  precision?: 'fp32' | 'int8';
}

/** The event of an image record that reached `done` or `failed` (built from the stored record, so a retry repeats it). */
export function imageResultEvent(image: ImageRecord, bucket: string, modelInfo: ModelInfo = {}): ResultEvent | undefined {
  const common = {
    version: EVENT_DETAIL_VERSION,
    eventId: resultEventId('image', image.imageId, image.sequencer ?? '', image.status),
    imageId: image.imageId,
    object: { bucket, key: image.objectKey },
    ...(image.owner !== undefined ? { owner: image.owner } : {}),
    occurredAt: image.updatedAt,
    model: image.model,
    ...modelInfo,
    ...(image.timingsMs ? { timingsMs: image.timingsMs } : {}),
  } as const;
  if (image.status === 'done' && image.caption !== undefined) {
    return {
      detailType: 'Image Captioned',
      detail: {
        ...common,
        status: 'done',
        caption: image.caption,
        ...(image.prompt !== undefined ? { prompt: image.prompt } : {}),
        ...(image.contentSha256 !== undefined ? { contentSha256: image.contentSha256 } : {}),
        ...(image.contentType !== undefined ? { contentType: image.contentType } : {}),
        ...(image.contentLength !== undefined ? { contentLength: image.contentLength } : {}),
        ...(image.cacheHit !== undefined ? { cacheHit: image.cacheHit } : {}),
      },
    };
  }
  if (image.status === 'failed' && image.error) {
    return { detailType: 'Image Failed', detail: { ...common, status: 'failed', error: { code: image.error.code, message: FAILURE_MESSAGES[image.error.code] } } };
  }
  return undefined;
}

/** The event of a question that reached `done` or `failed`. */
export function questionResultEvent(q: QuestionRecord, object: { bucket: string; key: string }): ResultEvent | undefined {
  const common = {
    version: EVENT_DETAIL_VERSION,
    eventId: resultEventId('question', q.imageId, q.questionId, q.status),
    imageId: q.imageId,
    object,
    ...(q.owner !== undefined ? { owner: q.owner } : {}),
    occurredAt: q.updatedAt,
    questionId: q.questionId,
    question: q.question,
  } as const;
  if (q.status === 'done' && q.answer !== undefined && q.model !== undefined) {
    return { detailType: 'Question Answered', detail: { ...common, status: 'done', answer: q.answer, model: q.model } };
  }
  if (q.status === 'failed' && q.error) {
    return {
      detailType: 'Question Failed',
      detail: { ...common, status: 'failed', error: { code: q.error.code, message: FAILURE_MESSAGES[q.error.code] }, ...(q.model !== undefined ? { model: q.model } : {}) },
    };
  }
  return undefined;
}

/** The event of an image being deleted (one id per image: a deletion happens once). */
export function imageDeletedEvent(image: ImageRecord, bucket: string, reason: ImageDeleted['reason'], at: Date = new Date()): ResultEvent {
  return {
    detailType: 'Image Deleted',
    detail: {
      version: EVENT_DETAIL_VERSION,
      eventId: resultEventId('image', image.imageId, image.sequencer ?? image.createdAt, 'deleted'),
      imageId: image.imageId,
      object: { bucket, key: image.objectKey },
      ...(image.owner !== undefined ? { owner: image.owner } : {}),
      occurredAt: at.toISOString(),
      status: 'deleted',
      reason,
    },
  };
}

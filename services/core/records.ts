import { z } from 'zod';
import { IMAGE_INPUT_REASONS } from './failure-reasons.js';

/** Image lifecycle: awaiting_upload -> queued -> processing -> done | failed. */
export const IMAGE_STATUSES = ['awaiting_upload', 'queued', 'processing', 'done', 'failed'] as const;
export const imageStatusSchema = z.enum(IMAGE_STATUSES);
export type ImageStatus = z.infer<typeof imageStatusSchema>;

export const TERMINAL_STATUSES: readonly ImageStatus[] = ['done', 'failed'];

/**
 * Why an image or question failed. The image codes are the BLIP runtime's ImageInputError codes;
 * the rest come from the pipeline itself.
 */
export const FAILURE_REASONS = [
  // bad input (the message is deleted; retrying cannot help)
  ...IMAGE_INPUT_REASONS,
  'object_missing',
  // the pipeline
  'processing_error',
  'enqueue_failed',
  'vqa_unavailable',
  'image_failed',
] as const;
export const failureReasonSchema = z.enum(FAILURE_REASONS);
export type FailureReason = z.infer<typeof failureReasonSchema>;

export const recordErrorSchema = z.object({ code: failureReasonSchema, message: z.string() });
export type RecordError = z.infer<typeof recordErrorSchema>;

export const timingsSchema = z.object({
  queueMs: z.number().optional(),
  inferenceMs: z.number().optional(),
  totalMs: z.number().optional(),
});

const isoDate = z.iso.datetime();

/** The image record as stored (item `image#<imageId>`) and served by GET /v1/images/{imageId}. */
export const imageRecordSchema = z.object({
  imageId: z.string(),
  status: imageStatusSchema,
  /** Model that made (or will make) the caption. */
  model: z.string(),
  objectKey: z.string(),
  caption: z.string().optional(),
  tokenIds: z.array(z.number().int()).optional(),
  contentSha256: z.string().optional(),
  contentType: z.string().optional(),
  contentLength: z.number().int().optional(),
  filename: z.string().optional(),
  prompt: z.string().optional(),
  error: recordErrorSchema.optional(),
  cacheHit: z.boolean().optional(),
  timingsMs: timingsSchema.optional(),
  /** Normalised S3 sequencer of the event the record reflects (newer events win). */
  sequencer: z.string().optional(),
  createdAt: isoDate,
  updatedAt: isoDate,
});
export type ImageRecord = z.infer<typeof imageRecordSchema>;

/** Item `object#<objectKey>`: which image an object key belongs to. */
export const objectRecordSchema = z.object({
  objectKey: z.string(),
  imageId: z.string(),
  sequencer: z.string(),
  updatedAt: isoDate,
});
export type ObjectRecord = z.infer<typeof objectRecordSchema>;

/** Item `caption#<model>#<sha256>`: a caption claimed by one worker, then completed once. */
export const captionRecordSchema = z.discriminatedUnion('state', [
  z.object({
    state: z.literal('pending'),
    model: z.string(),
    contentSha256: z.string(),
    owner: z.string(),
    leaseUntil: z.number(),
  }),
  z.object({
    state: z.literal('done'),
    model: z.string(),
    contentSha256: z.string(),
    text: z.string(),
    tokenIds: z.array(z.number().int()),
    inferenceMs: z.number(),
    createdAt: isoDate,
  }),
]);
export type CaptionRecord = z.infer<typeof captionRecordSchema>;
export type DoneCaption = Extract<CaptionRecord, { state: 'done' }>;

export const QUESTION_STATUSES = ['queued', 'processing', 'done', 'failed'] as const;
export const questionStatusSchema = z.enum(QUESTION_STATUSES);
export type QuestionStatus = z.infer<typeof questionStatusSchema>;

/** Item `question#<imageId>#<questionId>`, served by GET /v1/images/{imageId}/questions/{questionId}. */
export const questionRecordSchema = z.object({
  questionId: z.string(),
  imageId: z.string(),
  question: z.string(),
  status: questionStatusSchema,
  answer: z.string().optional(),
  tokenIds: z.array(z.number().int()).optional(),
  model: z.string().optional(),
  error: recordErrorSchema.optional(),
  createdAt: isoDate,
  updatedAt: isoDate,
});
export type QuestionRecord = z.infer<typeof questionRecordSchema>;

export type PublicImage = Omit<ImageRecord, 'sequencer'>;

/** Strips storage-only fields for the HTTP view of an image record. */
export function publicImage(record: ImageRecord): PublicImage {
  const { sequencer: _sequencer, ...rest } = record;
  return rest;
}

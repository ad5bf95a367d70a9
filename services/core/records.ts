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
  /** Who uploaded it (the token's subject); absent for objects dropped into the bucket by other writers (the operator's). */
  owner: z.string().optional(),
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
  /** Partition key of the caption item this image's caption came from (deleted with the image). */
  captionKey: z.string().optional(),
  /** The questions asked about it (deleted with the image); `questionCount` is their number, the per-image quota. */
  questionIds: z.array(z.string()).optional(),
  questionCount: z.number().int().optional(),
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
  /** Who asked (the token's subject); absent only on records written before owners existed. */
  owner: z.string().optional(),
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

/** An image record as cached in Redis: everything but the sequencer (the API still needs the owner). */
export type CachedImage = Omit<ImageRecord, 'sequencer'>;

/** Strips storage-only fields before an image record is cached. */
export function cachedImage(record: ImageRecord): CachedImage {
  const { sequencer: _sequencer, ...rest } = record;
  return rest;
}

/**
 * What a caller is told about a failure: the code and a fixed message per code. The recorded message (with
 * internal details) stays in the logs and the operator's view.
 */
export const FAILURE_MESSAGES: Record<FailureReason, string> = {
  empty: 'the object is empty',
  not_an_image: 'the object is not an image',
  unsupported_format: 'the image format is not supported',
  truncated: 'the image file is truncated',
  too_large: 'the object is larger than the size limit',
  too_many_pixels: 'the image has more pixels than the limit',
  corrupt: 'the image file is corrupt',
  object_missing: 'the object was deleted before it could be processed',
  processing_error: 'processing failed repeatedly; try again later',
  enqueue_failed: 'the job could not be queued; try again later',
  vqa_unavailable: 'no question-answering model is configured',
  image_failed: 'the image could not be processed, so it cannot be asked about',
};

/** GET /v1/images/{id} for the image's owner: what they need, no storage internals, no cross-owner hints. */
export type OwnerImageView = Pick<ImageRecord, 'imageId' | 'status' | 'model' | 'caption' | 'tokenIds' | 'contentSha256' | 'contentType' | 'contentLength' | 'filename' | 'prompt' | 'error' | 'createdAt' | 'updatedAt'>;
/** The operator's view: the whole record but the storage-only fields. */
export type OperatorImageView = Omit<ImageRecord, 'sequencer' | 'captionKey' | 'questionIds'>;

export function ownerImageView(r: CachedImage): OwnerImageView {
  return {
    imageId: r.imageId,
    status: r.status,
    model: r.model,
    caption: r.caption,
    tokenIds: r.tokenIds,
    contentSha256: r.contentSha256,
    contentType: r.contentType,
    contentLength: r.contentLength,
    filename: r.filename,
    prompt: r.prompt,
    error: r.error ? { code: r.error.code, message: FAILURE_MESSAGES[r.error.code] } : undefined,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

export function operatorImageView(r: CachedImage): OperatorImageView {
  const { captionKey: _c, questionIds: _q, ...rest } = r;
  return rest;
}

/** A question record for its asker: the owner field and internal error details stripped. */
export function questionView(q: QuestionRecord): Omit<QuestionRecord, 'owner'> {
  const { owner: _owner, ...rest } = q;
  return { ...rest, error: q.error ? { code: q.error.code, message: FAILURE_MESSAGES[q.error.code] } : undefined };
}

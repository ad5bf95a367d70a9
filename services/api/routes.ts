import { createRoute, z } from '@hono/zod-openapi';
import { imageRecordSchema, questionRecordSchema } from '../core/records.js';
import { IMAGE_CONTENT_TYPES, questionRequestSchema, uploadRequestSchema } from './schemas.js';

/**
 * The HTTP API's routes as OpenAPI 3.1 route definitions (@hono/zod-openapi): the request schemas are the ones the
 * routes validate with, the response schemas the ones the handlers' answers are typed against, so the description
 * served at GET /v1/openapi.json cannot drift from the code.
 */

export const errorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'not_found' }),
      message: z.string().openapi({ example: 'image 0190d5c2-8f4e-7a9b-8c1d-2e3f4a5b6c7d not found' }),
      quota: z.enum(['uploads_per_day', 'upload_bytes_per_day', 'questions_per_minute', 'questions_per_image']).optional(),
    }),
  })
  .openapi('Error');

const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { 'application/json': { schema } }, description });
const error = (description: string) => json(errorSchema, description);

/** The errors every authenticated route may answer. */
const authErrors = {
  401: error('no bearer token, or the token is invalid (expired, not valid yet, another issuer or audience, bad signature); `WWW-Authenticate` says why'),
  403: error('the token lacks the scope the route needs (`insufficient_scope`), or the request did not come through the distribution'),
  503: error('the identity provider cannot be reached (`auth_unavailable`)'),
} as const;

const security = [{ bearer: [] }];

export const uploadResponseSchema = z
  .object({
    imageId: z.uuid(),
    upload: z.object({
      method: z.literal('PUT'),
      url: z.url(),
      headers: z.object({ 'Content-Type': z.string(), 'Content-Length': z.string(), 'If-None-Match': z.literal('*') }).openapi({ description: 'send exactly these headers: the signature covers them' }),
    }),
    expiresAt: z.iso.datetime(),
    statusUrl: z.string(),
  })
  .openapi('Upload');

/** What the image's owner is told. */
export const ownerImageSchema = imageRecordSchema
  .pick({ imageId: true, status: true, model: true, caption: true, tokenIds: true, contentSha256: true, contentType: true, contentLength: true, filename: true, prompt: true, webhook: true, error: true, createdAt: true, updatedAt: true })
  .openapi('Image');
/** What the operator is told of a dropped object. */
export const operatorImageSchema = imageRecordSchema.omit({ sequencer: true, captionKey: true, questionIds: true }).openapi('DroppedImage');
export const questionAcceptedSchema = z.object({ questionId: z.uuid(), statusUrl: z.string() }).openapi('QuestionAccepted');
export const questionViewSchema = questionRecordSchema.omit({ owner: true }).openapi('Question');
export const configSchema = z
  .object({
    maxUploadBytes: z.number().int(),
    uploadExpiresSeconds: z.number().int(),
    uploadMethod: z.literal('PUT'),
    contentTypes: z.array(z.enum(IMAGE_CONTENT_TYPES)),
    prompt: z.boolean(),
    questions: z.boolean(),
    auth: z.discriminatedUnion('mode', [
      z.object({ mode: z.literal('oidc'), issuer: z.url(), clientId: z.string().nullable(), scope: z.string(), logoutUrl: z.url().nullable() }),
      z.object({ mode: z.literal('anonymous') }),
    ]),
  })
  .openapi('Config');
export const healthSchema = z.object({ status: z.literal('ok'), cache: z.enum(['ready', 'unavailable', 'disabled']) }).openapi('Health');

const imageIdParam = z.object({ imageId: z.string().openapi({ param: { name: 'imageId', in: 'path' }, format: 'uuid', example: '0190d5c2-8f4e-7a9b-8c1d-2e3f4a5b6c7d' }) });
const questionParams = imageIdParam.extend({ questionId: z.string().openapi({ param: { name: 'questionId', in: 'path' }, format: 'uuid' }) });

export const ROUTES = {
  health: createRoute({ method: 'get', path: '/healthz', summary: 'Liveness and the cache state', responses: { 200: json(healthSchema, 'the API is up') } }),
  config: createRoute({ method: 'get', path: '/v1/config', summary: 'Limits and how to sign in (open)', responses: { 200: json(configSchema, 'the page configuration') } }),
  createUpload: createRoute({
    method: 'post',
    path: '/v1/uploads',
    summary: 'A presigned, one-shot PUT for one image',
    security,
    request: { body: { content: { 'application/json': { schema: uploadRequestSchema, example: { contentType: 'image/jpeg', contentLength: 48213, filename: 'cat.jpg' } } }, required: true } },
    responses: {
      201: json(uploadResponseSchema, 'the record is created `awaiting_upload`; PUT the bytes to `upload.url` with `upload.headers`'),
      400: error('the body is not valid JSON (`invalid_json`) or not a valid request (`invalid_request`)'),
      413: error('`contentLength` over the limit (`too_large`) or a body over 16 KiB (`body_too_large`)'),
      415: error('not an image type the worker decodes (`unsupported_type`)'),
      429: error('a daily upload quota is used up (`quota_exceeded`, `quota` names it); `Retry-After` says when it refills'),
      ...authErrors,
    },
  }),
  getImage: createRoute({
    method: 'get',
    path: '/v1/images/{imageId}',
    summary: "An image's status and caption",
    security,
    request: { params: imageIdParam },
    responses: {
      200: json(z.union([ownerImageSchema, operatorImageSchema]), "the caller's view: the owner's (`Image`), or the operator's of a dropped object (`DroppedImage`)"),
      404: error('unknown, or not the caller\'s (answered exactly alike)'),
      ...authErrors,
    },
  }),
  deleteImage: createRoute({
    method: 'delete',
    path: '/v1/images/{imageId}',
    summary: 'Delete an image and everything about it',
    security,
    request: { params: imageIdParam },
    responses: { 204: { description: 'the object, the records, the questions and the cache entries are gone' }, 404: error("unknown, or not the caller's"), ...authErrors },
  }),
  getObject: createRoute({
    method: 'get',
    path: '/v1/objects',
    summary: 'The record of an object dropped into the bucket (operator scope)',
    security,
    request: { query: z.object({ key: z.string().min(1).max(1024).optional().openapi({ param: { name: 'key', in: 'query', required: true }, example: 'photos/cat.jpg' }) }) },
    responses: { 200: json(operatorImageSchema, 'the record'), 400: error('no `key` (`invalid_request`)'), 404: error('no record for the key'), ...authErrors },
  }),
  ask: createRoute({
    method: 'post',
    path: '/v1/images/{imageId}/questions',
    summary: 'Ask a question about an image (VQA)',
    security,
    request: { params: imageIdParam, body: { content: { 'application/json': { schema: questionRequestSchema, example: { question: 'what color is the cat?' } } }, required: true } },
    responses: {
      202: json(questionAcceptedSchema, 'queued; poll `statusUrl`'),
      400: error('not a valid question'),
      404: error("unknown image, or not the caller's"),
      409: error('the image is not uploaded (`not_uploaded`), failed (`image_failed`), or no VQA model is configured (`vqa_unavailable`)'),
      429: error('a question quota is used up (`quota_exceeded`: `questions_per_minute` or `questions_per_image`)'),
      ...authErrors,
    },
  }),
  getQuestion: createRoute({
    method: 'get',
    path: '/v1/images/{imageId}/questions/{questionId}',
    summary: "A question's status and answer",
    security,
    request: { params: questionParams },
    responses: { 200: json(questionViewSchema, 'the question'), 404: error("unknown, or not the caller's"), ...authErrors },
  }),
} as const;

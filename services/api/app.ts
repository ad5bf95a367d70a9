import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import { requestId } from 'hono/request-id';
import type { Logger } from 'pino';
import { z } from 'zod';
import { CACHE_KEYS, type Cache } from '../aws/cache.js';
import type { RecordStore } from '../aws/record-store.js';
import type { ObjectStore } from '../aws/s3.js';
import type { Queue } from '../aws/sqs.js';
import type { Config } from '../core/config.js';
import { newId } from '../core/ids.js';
import { imageIdForKey, uploadKey } from '../core/keys.js';
import { imageRecordSchema, publicImage, TERMINAL_STATUSES, type PublicImage } from '../core/records.js';
import { ApiError, notFound } from './errors.js';
import { TokenBucketLimiter } from './rate-limit.js';
import { IMAGE_CONTENT_TYPES, imageIdSchema, mediaType, objectKeySchema, questionRequestSchema, sanitizeFilename, uploadRequestSchema } from './schemas.js';
import { webPage } from './web.js';

export type ApiConfig = Pick<Config, 'maxUploadBytes' | 'uploadExpiresSeconds' | 'allowedOrigins' | 'model' | 'vqaModel' | 'webDir' | 'uploadRatePerMinute'>;

export interface ApiDeps {
  config: ApiConfig;
  records: RecordStore;
  objects: ObjectStore;
  queue: Queue;
  cache: Cache;
  logger: Logger;
  /** Identifies the client for rate limiting (the adapter knows the peer address). @default 'unknown' */
  clientKey?: (c: Context) => string;
}

type AppEnv = { Variables: { requestId: string; log: Logger } };

/** Largest JSON body accepted by any route. */
export const MAX_JSON_BODY_BYTES = 16 * 1024;

const CACHE_TTL_TERMINAL_SECONDS = 3_600;
const CACHE_TTL_OPEN_SECONDS = 5;

function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

async function readJson<T>(c: Context, schema: z.ZodType<T>): Promise<T> {
  let body: unknown;
  try {
    body = JSON.parse(await c.req.text());
  } catch {
    throw new ApiError(400, 'invalid_json', 'the request body is not valid JSON');
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new ApiError(400, 'invalid_request', z.prettifyError(parsed.error).replace(/\n/g, '; '));
  return parsed.data;
}

/**
 * The HTTP API (contract in DESIGN.md). One app object serves the Node server (server.ts) and
 * Lambda (lambda.ts); every error goes through `app.onError` as `{"error": {"code", "message"}}`.
 */
export function createApp(deps: ApiDeps): Hono<AppEnv> {
  const { config, records, objects, queue, cache, logger } = deps;
  const limiter = new TokenBucketLimiter(config.uploadRatePerMinute);
  const clientKey = deps.clientKey ?? (() => 'unknown');
  const app = new Hono<AppEnv>();

  app.use('*', requestId());
  app.use('*', async (c, next) => {
    const log = logger.child({ requestId: c.get('requestId') });
    c.set('log', log);
    const started = performance.now();
    await next();
    log.info({ method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(performance.now() - started) }, 'request');
  });
  app.use(
    '/v1/*',
    cors({
      origin: config.allowedOrigins === '*' ? '*' : config.allowedOrigins,
      allowMethods: ['GET', 'POST', 'OPTIONS'],
      allowHeaders: ['Content-Type'],
      exposeHeaders: ['X-Request-Id', 'Retry-After'],
      maxAge: 600,
    }),
  );
  // Statuses change by the second: no browser or proxy caching of API answers.
  app.use('/v1/*', async (c, next) => {
    await next();
    c.header('Cache-Control', 'no-store');
  });
  app.use(
    '/v1/*',
    bodyLimit({
      maxSize: MAX_JSON_BODY_BYTES,
      onError: () => {
        throw new ApiError(413, 'body_too_large', `request bodies are limited to ${MAX_JSON_BODY_BYTES} bytes`);
      },
    }),
  );

  app.onError((error, c) => {
    const log = c.get('log') ?? logger;
    if (error instanceof ApiError) {
      for (const [k, v] of Object.entries(error.headers)) c.header(k, v);
      return c.json(errorBody(error.code, error.message), error.status);
    }
    if (error instanceof HTTPException) {
      return c.json(errorBody(error.status === 413 ? 'body_too_large' : 'http_error', error.message || 'request rejected'), error.status);
    }
    log.error({ err: error }, 'unhandled error');
    return c.json(errorBody('internal_error', `internal error (request id ${c.get('requestId')})`), 500);
  });
  app.notFound((c) => c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`), 404));

  /** The HTTP view of an image record: Redis first, DynamoDB on a miss (and refill). */
  async function loadImage(imageId: string): Promise<PublicImage | undefined> {
    const cached = await cache.getJson(CACHE_KEYS.image(imageId), (v) => imageRecordSchema.parse(v));
    if (cached) return publicImage(cached);
    const stored = await records.getImage(imageId);
    if (!stored) return undefined;
    const terminal = TERMINAL_STATUSES.includes(stored.status);
    // NX: never overwrite a fresher value the worker wrote meanwhile.
    const view = publicImage(stored);
    await cache.setJson(CACHE_KEYS.image(imageId), view, terminal ? CACHE_TTL_TERMINAL_SECONDS : CACHE_TTL_OPEN_SECONDS, { onlyIfAbsent: true });
    return view;
  }

  app.get('/healthz', (c) =>
    c.json({ status: 'ok', cache: cache.enabled ? (cache.ready ? 'ready' : 'unavailable') : 'disabled' }),
  );

  app.get('/v1/config', (c) =>
    c.json({
      maxUploadBytes: config.maxUploadBytes,
      uploadExpiresSeconds: config.uploadExpiresSeconds,
      uploadMethod: 'PUT',
      contentTypes: IMAGE_CONTENT_TYPES,
      prompt: true,
      questions: config.vqaModel !== undefined,
    }),
  );

  app.post('/v1/uploads', async (c) => {
    const retryAfter = limiter.take(clientKey(c));
    if (retryAfter > 0) {
      throw new ApiError(429, 'rate_limited', `too many uploads from this client; retry in ${retryAfter} s`, { headers: { 'Retry-After': String(retryAfter) } });
    }
    const body = await readJson(c, uploadRequestSchema);
    const contentType = mediaType(body.contentType);
    if (!(IMAGE_CONTENT_TYPES as readonly string[]).includes(contentType)) {
      throw new ApiError(415, 'unsupported_type', `contentType ${JSON.stringify(body.contentType)} is not accepted; use one of ${IMAGE_CONTENT_TYPES.join(', ')}`);
    }
    if (body.contentLength > config.maxUploadBytes) {
      throw new ApiError(413, 'too_large', `contentLength ${body.contentLength} exceeds the limit of ${config.maxUploadBytes} bytes`);
    }
    const imageId = newId();
    const key = uploadKey(imageId);
    const filename = sanitizeFilename(body.filename);
    await records.createUpload({ imageId, objectKey: key, model: config.model ?? 'unconfigured', contentType, contentLength: body.contentLength, filename, prompt: body.prompt });
    const upload = await objects.presignPut(key, contentType, body.contentLength, config.uploadExpiresSeconds);
    c.get('log').info({ imageId, contentType, contentLength: body.contentLength }, 'upload created');
    return c.json(
      {
        imageId,
        upload: { method: upload.method, url: upload.url, headers: upload.headers },
        expiresAt: upload.expiresAt.toISOString(),
        statusUrl: `/v1/images/${imageId}`,
      },
      201,
      { Location: `/v1/images/${imageId}` },
    );
  });

  /**
   * An id from the path: anything that is not a UUID (a traversal attempt included) is simply an
   * unknown id, so it is answered like one (404), without touching the stores.
   */
  function pathId(c: Context, name: string, what: string): string {
    const raw = c.req.param(name) ?? '';
    const id = imageIdSchema.safeParse(raw);
    if (!id.success) throw notFound(`${what} ${JSON.stringify(raw.slice(0, 100))}`);
    return id.data;
  }

  app.get('/v1/images/:imageId', async (c) => {
    const imageId = pathId(c, 'imageId', 'image');
    const image = await loadImage(imageId);
    if (!image) throw notFound(`image ${imageId}`);
    return c.json(image);
  });

  app.get('/v1/objects', async (c) => {
    const key = objectKeySchema.safeParse(c.req.query('key'));
    if (!key.success) throw new ApiError(400, 'invalid_request', 'query parameter `key` (1..1024 characters) is required');
    // The image id is a pure function of the key (uploads/<id> or UUIDv5 of the key): one point read.
    const image = await loadImage(imageIdForKey(key.data));
    if (!image || image.objectKey !== key.data) throw notFound(`object ${JSON.stringify(key.data)}`);
    return c.json(image);
  });

  app.post('/v1/images/:imageId/questions', async (c) => {
    const imageId = pathId(c, 'imageId', 'image');
    const body = await readJson(c, questionRequestSchema);
    const image = await records.getImage(imageId);
    if (!image) throw notFound(`image ${imageId}`);
    // Refused before anything is written: no worker could ever answer it.
    if (config.vqaModel === undefined) {
      throw new ApiError(409, 'vqa_unavailable', 'no question-answering model is configured (GET /v1/config says questions: false)');
    }
    if (image.status === 'awaiting_upload') throw new ApiError(409, 'not_uploaded', 'the image has not been uploaded yet');
    if (image.status === 'failed') throw new ApiError(409, 'image_failed', `the image failed (${image.error?.code ?? 'unknown'}); it cannot be asked about`);
    const questionId = newId();
    await records.createQuestion({ imageId, questionId, question: body.question });
    try {
      await queue.send({ type: 'question', imageId, questionId });
    } catch (error) {
      // Never leave a question `queued` that no job will ever answer.
      const message = `the question could not be queued: ${error instanceof Error ? error.message : String(error)}`;
      c.get('log').error({ err: error, imageId, questionId }, 'question not queued');
      await records
        .updateQuestion(imageId, questionId, ['queued'], { status: 'failed', error: { code: 'enqueue_failed', message } })
        .catch((markError: unknown) => c.get('log').error({ err: markError, imageId, questionId }, 'question could not be marked failed'));
      throw new ApiError(503, 'queue_unavailable', `question ${questionId} could not be queued (recorded as failed); try again later`, { cause: error });
    }
    const statusUrl = `/v1/images/${imageId}/questions/${questionId}`;
    return c.json({ questionId, statusUrl }, 202, { Location: statusUrl });
  });

  app.get('/v1/images/:imageId/questions/:questionId', async (c) => {
    const imageId = pathId(c, 'imageId', 'image');
    const questionId = pathId(c, 'questionId', 'question');
    const question = await records.getQuestion(imageId, questionId);
    if (!question) throw notFound(`question ${questionId}`);
    return c.json(question);
  });

  app.all('/v1/*', (c) => c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`), 404));
  app.get('*', webPage(config.webDir));
  return app;
}

import { timingSafeEqual } from 'node:crypto';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import { requestId } from 'hono/request-id';
import type { Logger } from 'pino';
import { z } from 'zod';
import { CACHE_KEYS, type Cache } from '../aws/cache.js';
import { ImageEraser } from '../aws/image-eraser.js';
import type { ResultPublisher } from '../aws/result-publisher.js';
import { checkWebhookUrl } from '../webhooks/url-policy.js';
import type { QuotaStore, QuotaVerdict } from '../aws/quota-store.js';
import type { RecordStore } from '../aws/record-store.js';
import type { ObjectStore } from '../aws/s3.js';
import type { Queue } from '../aws/sqs.js';
import { AuthError, AuthUnavailableError, createAuthenticator, type Authenticator, type Principal } from '../auth/index.js';
import type { Config } from '../core/config.js';
import { newId } from '../core/ids.js';
import { uploadKey } from '../core/keys.js';
import { imageRecordSchema, operatorImageView, ownerImageView, questionView, TERMINAL_STATUSES, type CachedImage } from '../core/records.js';
import { ApiError, notFound } from './errors.js';
import { ROUTES } from './routes.js';
import { IMAGE_CONTENT_TYPES, imageIdSchema, mediaType, sanitizeFilename } from './schemas.js';
import { webPage } from './web.js';

export type ApiConfig = Pick<
  Config,
  'maxUploadBytes' | 'uploadExpiresSeconds' | 'allowedOrigins' | 'model' | 'vqaModel' | 'webDir' | 'auth' | 'quotas' | 'originVerifySecret' | 's3Endpoint'
> &
  /** Absent, or without a delivery queue: uploads may not name a webhook. */
  Partial<Pick<Config, 'webhooks'>>;

export interface ApiDeps {
  config: ApiConfig;
  records: RecordStore;
  quotas: QuotaStore;
  objects: ObjectStore;
  /** The questions queue (VQA jobs). */
  questionQueue: Queue;
  /** Publishes `Image Deleted` on DELETE (the channel the worker uses). @default none */
  publisher?: ResultPublisher;
  cache: Cache;
  logger: Logger;
  /** Who is calling. @default the one config.auth describes */
  authenticator?: Authenticator;
  /** The peer address (the adapter knows it); anonymous mode files records under it. @default 'unknown' */
  clientIp?: (c: Context) => string;
}

type AppEnv = { Variables: { requestId: string; log: Logger; principal: Principal } };

/** Largest JSON body accepted by any route. */
export const MAX_JSON_BODY_BYTES = 16 * 1024;

const CACHE_TTL_TERMINAL_SECONDS = 3_600;
const CACHE_TTL_OPEN_SECONDS = 5;

/** Routes anyone may call: the health check, the page's configuration and the OpenAPI description. */
const OPEN_API_ROUTES = new Set(['/v1/config', '/v1/openapi.json']);

function errorBody(code: string, message: string, extra: Record<string, unknown> = {}) {
  return { error: { code, message, ...extra } };
}

/** A refused quota as a 429 naming it, with Retry-After. */
function quotaError(verdict: Extract<QuotaVerdict, { ok: false }>, limit: string): ApiError {
  return new ApiError(429, 'quota_exceeded', `quota ${verdict.quota} (${limit}) reached; retry in ${verdict.retryAfterSeconds} s`, {
    headers: { 'Retry-After': String(verdict.retryAfterSeconds) },
    extra: { quota: verdict.quota },
  });
}

/** May `p` see this image? Its owner may; a dropped object (no owner) is the operator's. */
function mayAccess(p: Principal, image: { owner?: string | undefined }): boolean {
  return image.owner === undefined ? p.operator : p.user && image.owner === p.owner;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The HTTP API (contract in DESIGN.md). One app object serves the Node server (server.ts) and
 * Lambda (lambda.ts); every error goes through `app.onError` as `{"error": {"code", "message"}}`.
 */
export function createApp(deps: ApiDeps): OpenAPIHono<AppEnv> {
  const { config, records, quotas, objects, questionQueue, cache, logger } = deps;
  const authenticator = deps.authenticator ?? createAuthenticator(config.auth);
  const eraser = new ImageEraser(records, objects, cache, deps.publisher);
  const clientIp = deps.clientIp ?? (() => 'unknown');
  const app = new OpenAPIHono<AppEnv>({
    // A request that does not match its route's schema: one 400 naming the fields.
    defaultHook: (result) => {
      if (!result.success) throw new ApiError(400, 'invalid_request', z.prettifyError(result.error).replace(/\n/g, '; '));
    },
  });

  app.use('*', requestId());
  app.use('*', async (c, next) => {
    const log = logger.child({ requestId: c.get('requestId') });
    c.set('log', log);
    const started = performance.now();
    await next();
    log.info({ method: c.req.method, path: c.req.path, status: c.res.status, owner: c.get('principal')?.owner, ms: Math.round(performance.now() - started) }, 'request');
  });
  const originSecret = config.originVerifySecret;
  if (originSecret !== undefined) {
    // Behind CloudFront: a request that did not come through it (no or a wrong origin header) is refused.
    app.use('*', async (c, next) => {
      if (c.req.path === '/healthz') return next();
      if (!sameSecret(c.req.header('x-origin-verify') ?? '', originSecret)) throw new ApiError(403, 'forbidden', 'requests must come through the distribution in front of this API');
      return next();
    });
  }
  app.use(
    '/v1/*',
    cors({
      origin: config.allowedOrigins === '*' ? '*' : config.allowedOrigins,
      allowMethods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
      allowHeaders: ['Content-Type', 'Authorization'],
      exposeHeaders: ['X-Request-Id', 'Retry-After', 'WWW-Authenticate'],
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
  // Every /v1 route but the open ones needs a caller.
  app.use('/v1/*', async (c, next) => {
    if (OPEN_API_ROUTES.has(c.req.path) && c.req.method === 'GET') return next();
    c.set('principal', await authenticator.authenticate({ authorization: c.req.header('authorization'), sourceIp: clientIp(c) }));
    return next();
  });

  app.onError((error, c) => {
    const log = c.get('log') ?? logger;
    if (error instanceof ApiError) {
      for (const [k, v] of Object.entries(error.headers)) c.header(k, v);
      return c.json(errorBody(error.code, error.message, error.extra), error.status);
    }
    if (error instanceof AuthError) {
      c.header('WWW-Authenticate', error.challenge);
      return c.json(errorBody(error.authCode, error.message), error.status);
    }
    if (error instanceof AuthUnavailableError) {
      log.error({ err: error }, 'identity provider unavailable');
      return c.json(errorBody('auth_unavailable', `tokens cannot be checked right now; try again later (request id ${c.get('requestId')})`), 503);
    }
    if (error instanceof HTTPException) {
      // hono's JSON validator answers a body that is not JSON with a 400 HTTPException.
      if (error.status === 400 && /JSON/i.test(error.message)) return c.json(errorBody('invalid_json', 'the request body is not valid JSON'), 400);
      return c.json(errorBody(error.status === 413 ? 'body_too_large' : 'http_error', error.message || 'request rejected'), error.status);
    }
    log.error({ err: error }, 'unhandled error');
    return c.json(errorBody('internal_error', `internal error (request id ${c.get('requestId')})`), 500);
  });
  app.notFound((c) => c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`), 404));

  /** Needs the scope of a user (own images) or of the operator (dropped objects). */
  function requireScope(p: Principal, which: 'user' | 'any' | 'operator'): void {
    const ok = which === 'user' ? p.user : which === 'operator' ? p.operator : p.user || p.operator;
    if (ok) return;
    const scope = which === 'operator' ? config.auth.operatorScope : config.auth.userScope;
    throw new AuthError('insufficient_scope', `the token lacks the scope this route needs (${scope})`, { scope });
  }

  /** An image record: Redis first, DynamoDB on a miss (then refilled). */
  async function readImage(imageId: string): Promise<CachedImage | undefined> {
    const cached = await cache.getJson(CACHE_KEYS.image(imageId), (v) => imageRecordSchema.parse(v));
    if (cached) return cached;
    const stored = await records.getImage(imageId);
    if (!stored) return undefined;
    const terminal = TERMINAL_STATUSES.includes(stored.status);
    // NX: never overwrite a fresher value the worker wrote meanwhile.
    await cache.setJson(CACHE_KEYS.image(imageId), stored, terminal ? CACHE_TTL_TERMINAL_SECONDS : CACHE_TTL_OPEN_SECONDS, { onlyIfAbsent: true });
    return stored;
  }

  /** An image record the caller may see; another owner's image answers exactly as an unknown one (404). */
  async function loadImage(p: Principal, imageId: string): Promise<CachedImage> {
    const image = await readImage(imageId);
    if (!image || !mayAccess(p, image)) throw notFound(`image ${imageId}`);
    return image;
  }

  const view = (image: CachedImage) => (image.owner === undefined ? operatorImageView(image) : ownerImageView(image));

  app.openapi(ROUTES.health, (c) => c.json({ status: 'ok' as const, cache: cache.enabled ? (cache.ready ? ('ready' as const) : ('unavailable' as const)) : ('disabled' as const) }, 200));

  app.openapi(ROUTES.config, (c) => {
    const auth = config.auth;
    return c.json(
      {
        maxUploadBytes: config.maxUploadBytes,
        uploadExpiresSeconds: config.uploadExpiresSeconds,
        uploadMethod: 'PUT' as const,
        contentTypes: [...IMAGE_CONTENT_TYPES],
        prompt: true,
        questions: config.vqaModel !== undefined,
        auth:
          auth.mode === 'oidc'
            ? { mode: 'oidc' as const, issuer: auth.issuer, clientId: auth.webClientId ?? null, scope: `openid ${auth.userScope}`, logoutUrl: auth.logoutUrl ?? null }
            : { mode: 'anonymous' as const },
      },
      200,
    );
  });

  app.openapi(ROUTES.createUpload, async (c) => {
    const p = c.get('principal');
    requireScope(p, 'user');
    const body = c.req.valid('json');
    const contentType = mediaType(body.contentType);
    if (!(IMAGE_CONTENT_TYPES as readonly string[]).includes(contentType)) {
      throw new ApiError(415, 'unsupported_type', `contentType ${JSON.stringify(body.contentType)} is not accepted; use one of ${IMAGE_CONTENT_TYPES.join(', ')}`);
    }
    if (body.contentLength > config.maxUploadBytes) {
      throw new ApiError(413, 'too_large', `contentLength ${body.contentLength} exceeds the limit of ${config.maxUploadBytes} bytes`);
    }
    const webhook = body.webhook ? checkedWebhook(body.webhook.url) : undefined;
    const verdict = await quotas.takeUpload(p.owner, body.contentLength, config.quotas);
    if (!verdict.ok) {
      throw quotaError(verdict, verdict.quota === 'uploads_per_day' ? `${config.quotas.uploadsPerDay} uploads a day` : `${config.quotas.uploadBytesPerDay} bytes a day`);
    }
    const imageId = newId();
    const key = uploadKey(imageId);
    const filename = sanitizeFilename(body.filename);
    await records.createUpload({ imageId, owner: p.owner, objectKey: key, model: config.model ?? 'unconfigured', contentType, contentLength: body.contentLength, filename, prompt: body.prompt, ...(webhook ? { webhook } : {}) });
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

  /** A webhook URL an upload names, checked against the webhook policy (https, allow-list, no internal address). */
  function checkedWebhook(raw: string): { url: string } {
    const webhooks = config.webhooks;
    if (!webhooks?.queueUrl) throw new ApiError(400, 'webhooks_unavailable', 'this deployment delivers no webhooks (no delivery queue is configured)');
    const checked = checkWebhookUrl(raw, webhooks);
    if (!checked.ok) throw new ApiError(400, 'invalid_webhook', `webhook.url ${checked.reason}`);
    return { url: checked.url.toString() };
  }

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

  app.openapi(ROUTES.getImage, async (c) => {
    const p = c.get('principal');
    requireScope(p, 'any');
    const image = await loadImage(p, pathId(c, 'imageId', 'image'));
    return c.json(view(image), 200);
  });

  app.openapi(ROUTES.deleteImage, async (c) => {
    const p = c.get('principal');
    requireScope(p, 'any');
    const imageId = pathId(c, 'imageId', 'image');
    const image = await records.getImage(imageId);
    if (!image || !mayAccess(p, image)) throw notFound(`image ${imageId}`);
    await eraser.erase(image, { deleteObject: true, reason: 'api' });
    c.get('log').info({ imageId }, 'image deleted');
    return c.body(null, 204);
  });

  app.openapi(ROUTES.getObject, async (c) => {
    const p = c.get('principal');
    requireScope(p, 'operator');
    const { key } = c.req.valid('query');
    if (key === undefined) throw new ApiError(400, 'invalid_request', 'query parameter `key` (1..1024 characters) is required');
    const object = await records.getObject(key);
    if (!object?.imageId) throw notFound(`object ${JSON.stringify(key)}`);
    // Only dropped objects' records (no owner) are the operator's; a store failure stays a 5xx.
    const image = await readImage(object.imageId);
    if (!image || image.objectKey !== key || image.owner !== undefined) throw notFound(`object ${JSON.stringify(key)}`);
    return c.json(operatorImageView(image), 200);
  });

  app.openapi(ROUTES.ask, async (c) => {
    const p = c.get('principal');
    requireScope(p, 'any');
    const imageId = pathId(c, 'imageId', 'image');
    const body = c.req.valid('json');
    const image = await records.getImage(imageId);
    if (!image || !mayAccess(p, image)) throw notFound(`image ${imageId}`);
    // Refused before anything is written: no worker could ever answer it.
    if (config.vqaModel === undefined) {
      throw new ApiError(409, 'vqa_unavailable', 'no question-answering model is configured (GET /v1/config says questions: false)');
    }
    if (image.status === 'awaiting_upload') throw new ApiError(409, 'not_uploaded', 'the image has not been uploaded yet');
    if (image.status === 'failed') throw new ApiError(409, 'image_failed', `the image failed (${image.error?.code ?? 'unknown'}); it cannot be asked about`);
    const perMinute = await quotas.takeQuestion(p.owner, config.quotas.questionsPerMinute);
    if (!perMinute.ok) throw quotaError(perMinute, `${config.quotas.questionsPerMinute} questions a minute`);
    const questionId = newId();
    const added = await records.addQuestion(imageId, questionId, image.owner, config.quotas.questionsPerImage);
    if (added === 'not_found') throw notFound(`image ${imageId}`);
    if (added === 'quota_exceeded') {
      throw new ApiError(429, 'quota_exceeded', `quota questions_per_image (${config.quotas.questionsPerImage} questions an image) reached`, { extra: { quota: 'questions_per_image' } });
    }
    await records.createQuestion({ imageId, questionId, question: body.question, owner: image.owner });
    try {
      await questionQueue.send({ type: 'question', imageId, questionId });
    } catch (error) {
      // Never leave a question `queued` that no job will ever answer.
      c.get('log').error({ err: error, imageId, questionId }, 'question not queued');
      await records
        .updateQuestion(imageId, questionId, ['queued'], { status: 'failed', error: { code: 'enqueue_failed', message: `the question could not be queued: ${error instanceof Error ? error.message : String(error)}` } })
        .catch((markError: unknown) => c.get('log').error({ err: markError, imageId, questionId }, 'question could not be marked failed'));
      throw new ApiError(503, 'queue_unavailable', `question ${questionId} could not be queued (recorded as failed); try again later (request id ${c.get('requestId')})`, { cause: error });
    }
    const statusUrl = `/v1/images/${imageId}/questions/${questionId}`;
    return c.json({ questionId, statusUrl }, 202, { Location: statusUrl });
  });

  app.openapi(ROUTES.getQuestion, async (c) => {
    const p = c.get('principal');
    requireScope(p, 'any');
    const imageId = pathId(c, 'imageId', 'image');
    const questionId = pathId(c, 'questionId', 'question');
    const question = await records.getQuestion(imageId, questionId);
    if (!question || !mayAccess(p, question)) throw notFound(`question ${questionId}`);
    return c.json(questionView(question), 200);
  });

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'An OAuth 2.0 access token of the configured OpenID issuer (scopes blipline/images, blipline/operator)',
  });
  app.doc31('/v1/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'blipline', version: '1', description: 'Drop an image, get a caption: presigned uploads, status, questions (VQA), deletion.' },
  });

  app.all('/v1/*', (c) => c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`), 404));
  app.get('*', webPage(config));
  return app;
}

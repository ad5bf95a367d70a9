import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { JWK } from 'jose';
import { pino, type Logger } from 'pino';
import { startS3ToSqsBridge, type S3ToSqsBridge } from './bridge.js';
import { startDynamoDb, type LocalDynamoDb } from './dynamodb.js';
import { LocalStackError, LocalStackStartError, type StackPiece } from './errors.js';
import { OwnRedis, SHARED_REDIS_URL, deleteKeysWithPrefix, randomRedisPrefix, redisAnswers } from './redis.js';
import { startLocalOidc, type LocalOidc } from './oidc.js';
import { S3RVER_CREDENTIALS, startS3, type LocalS3 } from './s3.js';
import { startSqs, type LocalSqs } from './sqs.js';

export { LocalStackError, LocalStackStartError } from './errors.js';
export type { LocalStackErrorCode, StackPiece } from './errors.js';
export { encodeS3EventKey } from './s3-event.js';

export type RedisMode = 'shared' | 'own' | 'none';

export interface LocalStackOptions {
  /**
   * 'shared': the Redis already running on 127.0.0.1:6379 (keys must use `redisKeyPrefix`); when it
   * does not answer, an own `redis-server` is started, and when that is not installed the stack runs
   * without Redis (cache disabled, logged as a warning).
   * 'own': a `redis-server` child on a free port (throws when it cannot start); `stopRedis()` /
   * `startRedis()` simulate an outage. 'none': no Redis.
   * @default 'shared'
   */
  redis?: RedisMode;
  /** Receives before a message moves to the DLQ. @default 5 */
  maxReceiveCount?: number;
  /** Webhook delivery attempts before a job moves to the webhook DLQ. @default 8 */
  webhookAttempts?: number;
  /** Main queue visibility timeout. @default 60 */
  visibilityTimeoutSeconds?: number;
  /** The OpenID provider's signing key (a private JWK with kid and alg); one is made for the run when absent. */
  oidcSigningKey?: JWK;
  /** Keep S3 objects and DynamoDB items here across runs; temporary / in memory when absent. */
  dataDir?: string;
  logger?: Logger;
}

export interface LocalStack {
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  s3: { endpoint: string; bucket: string }; // path-style
  /** The endpoint and the queue URLs (captions, questions, result events, webhook deliveries, their DLQs). */
  sqs: Omit<LocalSqs, 'stop'>;
  /** BLIPLINE_WEBHOOK_SECRET of this stack (`whsec_<base64>`, made for this run). */
  webhookSecret: string;
  /** The OpenID provider whose tokens the API accepts (dev users and clients). */
  oidc: Omit<LocalOidc, 'stop'>;
  /** BLIPLINE_OBJECT_ID_SECRET of this stack (made for this run). */
  objectIdSecret: string;
  dynamodb: { endpoint: string; table: string };
  /** undefined when no Redis is reachable (cache disabled). */
  redisUrl: string | undefined;
  /** Prefix every Redis key must start with (BLIPLINE_REDIS_PREFIX); '' without Redis. */
  redisKeyPrefix: string;
  /** Which Redis the stack ended up with. */
  redisMode: RedisMode;
  /** Milliseconds startLocalStack took. */
  startupMs: number;
  /** The BLIPLINE_* / AWS_* variables for the API and the worker. */
  env(): Record<string, string>;
  /** Resolves once every S3 object-created event so far is on the queue. */
  drainS3Events(): Promise<void>;
  /** Stops the stack's own redis-server (redis: 'own' only). */
  stopRedis(): Promise<void>;
  /** Starts it again on the same port. */
  startRedis(): Promise<void>;
  /** Stops everything this stack started; idempotent. */
  stop(): Promise<void>;
}

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_BUCKET = 'blipline-local';
export const LOCAL_QUEUE = 'blipline-jobs';
export const LOCAL_DLQ = 'blipline-jobs-dlq';
export const LOCAL_QUESTION_QUEUE = 'blipline-questions';
export const LOCAL_QUESTION_DLQ = 'blipline-questions-dlq';
export const LOCAL_TABLE = 'blipline';
export const LOCAL_EVENTS_QUEUE = 'blipline-events';
export const LOCAL_WEBHOOK_QUEUE = 'blipline-webhooks';
export const LOCAL_WEBHOOK_DLQ = 'blipline-webhooks-dlq';

const liveStacks = new Set<LocalStack>();
let signalHooksInstalled = false;

/**
 * On SIGINT/SIGTERM/SIGHUP, when nobody else listens for the signal, stop every stack and then die of the
 * signal as Node would have. When the application has its own handler (e.g. `blipline dev`), it is
 * in charge and calls `stop()`; children are killed on process exit in any case.
 */
function installSignalHooks(): void {
  if (signalHooksInstalled) return;
  signalHooksInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      if (process.listenerCount(signal) > 1) return;
      void Promise.allSettled([...liveStacks].map((stack) => stack.stop())).finally(() => {
        process.removeListener(signal, handler);
        process.kill(process.pid, signal);
      });
    };
    process.on(signal, handler);
  }
}

interface RedisChoice {
  mode: RedisMode;
  url: string | undefined;
  prefix: string;
  own: OwnRedis | undefined;
}

async function chooseRedis(mode: RedisMode, logger: Logger): Promise<RedisChoice> {
  if (mode === 'none') return { mode, url: undefined, prefix: '', own: undefined };
  if (mode === 'shared') {
    if (await redisAnswers(SHARED_REDIS_URL)) {
      return { mode, url: SHARED_REDIS_URL, prefix: randomRedisPrefix(), own: undefined };
    }
    logger.warn(`no Redis answers at ${SHARED_REDIS_URL}; starting an own redis-server`);
    try {
      const own = await OwnRedis.start();
      return { mode: 'own', url: own.url, prefix: randomRedisPrefix(), own };
    } catch (error) {
      logger.warn(
        { err: error },
        '!!! NO REDIS: redis-server could not be started either. The cache is DISABLED; everything reads DynamoDB. !!!',
      );
      return { mode: 'none', url: undefined, prefix: '', own: undefined };
    }
  }
  const own = await OwnRedis.start();
  return { mode, url: own.url, prefix: randomRedisPrefix(), own };
}

/** Runs one piece's start, timing it; a failure becomes a value so the other pieces can finish. */
async function settle<T>(piece: StackPiece, start: () => Promise<T>, timings: Record<string, number>): Promise<T | LocalStackError> {
  const started = Date.now();
  try {
    return await start();
  } catch (error) {
    return error instanceof LocalStackError ? error : new LocalStackError(piece, 'start_failed', String(error), { cause: error });
  } finally {
    timings[piece] = Date.now() - started;
  }
}

/**
 * Starts S3 (s3rver), SQS (fauxqs), DynamoDB Local and Redis in parallel on free 127.0.0.1 ports,
 * creates the bucket (CORS open), queue + DLQ (redrive), table (pk, TTL on `ttl`), and bridges
 * S3 object-created events to the queue as S3 event notifications.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const started = Date.now();
  const logger = options.logger ?? pino({ name: 'local-stack', level: 'info' });
  const region = LOCAL_REGION;
  const credentials = { ...S3RVER_CREDENTIALS };
  const maxReceiveCount = options.maxReceiveCount ?? 5;
  const visibilityTimeoutSeconds = options.visibilityTimeoutSeconds ?? 60;

  let tempDir: string | undefined;
  let s3Dir: string;
  let dynamoDir: string | undefined;
  if (options.dataDir) {
    s3Dir = path.join(options.dataDir, 's3');
    dynamoDir = path.join(options.dataDir, 'dynamodb');
    await Promise.all([mkdir(s3Dir, { recursive: true }), mkdir(dynamoDir, { recursive: true })]);
  } else {
    tempDir = await mkdtemp(path.join(tmpdir(), 'blipline-local-'));
    s3Dir = path.join(tempDir, 's3');
  }

  const timings: Record<string, number> = {};
  const [s3, sqs, dynamodb, redis, oidc] = await Promise.all([
    settle('s3', () => startS3({ bucket: LOCAL_BUCKET, directory: s3Dir }), timings),
    settle(
      'sqs',
      () =>
        startSqs({
          region,
          credentials,
          queueName: LOCAL_QUEUE,
          dlqName: LOCAL_DLQ,
          questionQueueName: LOCAL_QUESTION_QUEUE,
          questionDlqName: LOCAL_QUESTION_DLQ,
          eventsQueueName: LOCAL_EVENTS_QUEUE,
          webhookQueueName: LOCAL_WEBHOOK_QUEUE,
          webhookDlqName: LOCAL_WEBHOOK_DLQ,
          webhookAttempts: options.webhookAttempts ?? 8,
          maxReceiveCount,
          visibilityTimeoutSeconds,
        }),
      timings,
    ),
    settle('dynamodb', () => startDynamoDb({ region, credentials, table: LOCAL_TABLE, dbPath: dynamoDir }), timings),
    settle('redis', () => chooseRedis(options.redis ?? 'shared', logger), timings),
    settle('oidc', () => startLocalOidc({ logger, signingKey: options.oidcSigningKey }), timings),
  ]);

  let bridge: S3ToSqsBridge | LocalStackError | undefined;
  if (!(s3 instanceof LocalStackError) && !(sqs instanceof LocalStackError)) {
    bridge = await settle(
      'bridge',
      () => startS3ToSqsBridge({ region, credentials, s3, sqsEndpoint: sqs.endpoint, queueUrl: sqs.queueUrl, logger }),
      timings,
    );
  }

  // The bridge stops first (it drains into SQS), then every piece in parallel.
  const pieceStops: Array<() => Promise<void>> = [];
  if (!(s3 instanceof LocalStackError)) pieceStops.push(() => s3.stop());
  if (!(sqs instanceof LocalStackError)) pieceStops.push(() => sqs.stop());
  if (!(dynamodb instanceof LocalStackError)) pieceStops.push(() => dynamodb.stop());
  if (!(oidc instanceof LocalStackError)) pieceStops.push(() => oidc.stop());
  if (!(redis instanceof LocalStackError)) {
    const { own, url, prefix } = redis;
    if (own) pieceStops.push(() => own.close());
    else if (url) pieceStops.push(() => deleteKeysWithPrefix(url, prefix));
  }
  const stopAll = async (): Promise<void> => {
    const results = [
      ...(await Promise.allSettled(bridge && !(bridge instanceof LocalStackError) ? [bridge.stop()] : [])),
      ...(await Promise.allSettled(pieceStops.map((stop) => stop()))),
    ];
    for (const result of results) {
      if (result.status === 'rejected') logger.warn({ err: result.reason }, 'local stack: a piece did not stop cleanly');
    }
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
  };
  let stopping: Promise<void> | undefined;

  const failures = [s3, sqs, dynamodb, redis, oidc, bridge].filter((r): r is LocalStackError => r instanceof LocalStackError);
  if (
    failures.length > 0 ||
    s3 instanceof LocalStackError ||
    sqs instanceof LocalStackError ||
    dynamodb instanceof LocalStackError ||
    redis instanceof LocalStackError ||
    oidc instanceof LocalStackError ||
    bridge === undefined ||
    bridge instanceof LocalStackError
  ) {
    await stopAll();
    throw new LocalStackStartError(failures);
  }

  if (!redis.url) {
    logger.warn('!!! local stack without Redis: BLIPLINE_REDIS_URL is unset, the cache is DISABLED !!!');
  }

  const objectIdSecret = randomBytes(32).toString('base64url');
  const webhookSecret = `whsec_${randomBytes(32).toString('base64')}`;
  const { stop: _stopOidc, ...oidcInfo } = oidc;
  const { stop: _stopSqs, ...sqsInfo } = sqs;
  const stack: LocalStack = {
    region,
    credentials,
    s3: { endpoint: s3.endpoint, bucket: s3.bucket },
    sqs: sqsInfo,
    webhookSecret,
    oidc: oidcInfo,
    objectIdSecret,
    dynamodb: { endpoint: dynamodb.endpoint, table: dynamodb.table },
    redisUrl: redis.url,
    redisKeyPrefix: redis.prefix,
    redisMode: redis.mode,
    startupMs: Date.now() - started,
    env() {
      return {
        AWS_REGION: region,
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        BLIPLINE_BUCKET: s3.bucket,
        BLIPLINE_QUEUE_URL: sqs.queueUrl,
        BLIPLINE_QUESTION_QUEUE_URL: sqs.questionQueueUrl,
        BLIPLINE_TABLE: dynamodb.table,
        BLIPLINE_OIDC_ISSUER: oidc.issuer,
        BLIPLINE_OIDC_AUDIENCE: oidc.audience,
        BLIPLINE_OIDC_CLIENT_ID: oidc.webClientId,
        BLIPLINE_OBJECT_ID_SECRET: objectIdSecret,
        BLIPLINE_EVENTS_QUEUE_URL: sqs.eventsQueueUrl,
        BLIPLINE_WEBHOOK_QUEUE_URL: sqs.webhookQueueUrl,
        BLIPLINE_WEBHOOK_SECRET: webhookSecret,
        // Locally webhooks may be plain http and reach loopback receivers; on AWS neither is allowed.
        BLIPLINE_WEBHOOK_ALLOW_HTTP: 'true',
        BLIPLINE_WEBHOOK_ALLOW_PRIVATE: 'true',
        BLIPLINE_S3_ENDPOINT: s3.endpoint,
        BLIPLINE_SQS_ENDPOINT: sqs.endpoint,
        BLIPLINE_DYNAMODB_ENDPOINT: dynamodb.endpoint,
        ...(redis.url ? { BLIPLINE_REDIS_URL: redis.url, BLIPLINE_REDIS_PREFIX: redis.prefix } : {}),
      };
    },
    drainS3Events: () => bridge.drain(),
    async stopRedis() {
      if (!redis.own) throw new LocalStackError('redis', 'setup_failed', "stopRedis() needs a stack started with redis: 'own'");
      await redis.own.stop();
    },
    async startRedis() {
      if (!redis.own) throw new LocalStackError('redis', 'setup_failed', "startRedis() needs a stack started with redis: 'own'");
      await redis.own.start();
    },
    stop() {
      stopping ??= (async () => {
        liveStacks.delete(stack);
        await stopAll();
        logger.info('local stack stopped');
      })();
      return stopping;
    },
  };
  liveStacks.add(stack);
  installSignalHooks();
  logger.info(
    { startupMs: stack.startupMs, timingsMs: timings, s3: stack.s3, sqs: stack.sqs, dynamodb: stack.dynamodb, redis: stack.redisUrl ?? 'none' },
    'local stack ready',
  );
  return stack;
}

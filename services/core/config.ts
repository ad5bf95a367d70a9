import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { repoRoot } from './paths.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const optionalString = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .optional();

const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine((v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    }, `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`);

const optionalUrl = (protocols: string[]) =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), url(protocols).optional());

const positiveInt = (fallback: number) =>
  z.preprocess(
    (v) => (v === undefined || v === '' ? fallback : v),
    z.coerce.number().int('must be an integer').positive('must be positive'),
  );

const flag = z.preprocess((v) => (v === undefined || v === '' ? 'false' : v), z.enum(['true', 'false'], { error: 'must be true or false' })).transform((v) => v === 'true');

/** The environment variables blipline reads (COMMON.md lists them); validated once at start. */
const envSchema = z.object({
  AWS_REGION: z.string().trim().min(1, 'is required'),
  BLIPLINE_BUCKET: z.string().trim().min(3, 'is required (an S3 bucket name)'),
  BLIPLINE_QUEUE_URL: url(['http:', 'https:']),
  BLIPLINE_TABLE: z.string().trim().min(3, 'is required (a DynamoDB table name)'),
  BLIPLINE_REDIS_URL: optionalUrl(['redis:', 'rediss:']),
  BLIPLINE_REDIS_PREFIX: z.string().default('blipline:'),
  BLIPLINE_REDIS_USERNAME: optionalString,
  BLIPLINE_REDIS_PASSWORD: optionalString,
  BLIPLINE_REDIS_PASSWORD_SECRET_ARN: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    z.string().trim().regex(/^arn:aws[\w-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/, 'must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)').optional(),
  ),
  BLIPLINE_S3_ENDPOINT: optionalUrl(['http:', 'https:']),
  BLIPLINE_SQS_ENDPOINT: optionalUrl(['http:', 'https:']),
  BLIPLINE_DYNAMODB_ENDPOINT: optionalUrl(['http:', 'https:']),
  BLIPLINE_MAX_UPLOAD_BYTES: positiveInt(33_554_432),
  BLIPLINE_UPLOAD_EXPIRES_SECONDS: positiveInt(60).pipe(z.number().max(604_800, 'must be at most 604800 (7 days)')),
  BLIPLINE_ALLOWED_ORIGINS: z.string().default('*'),
  BLIPLINE_MODEL: optionalString,
  BLIPLINE_VQA_MODEL: optionalString,
  BLIPLINE_PRECISION: z.enum(['fp32', 'int8']).default('fp32'),
  BLIPLINE_WEB_DIR: z.string().default(path.join(repoRoot, 'services/web/dist')),
  BLIPLINE_RECORD_TTL_DAYS: positiveInt(30),
  BLIPLINE_MAX_RECEIVE_COUNT: positiveInt(5),
  BLIPLINE_QUESTION_QUEUE_URL: url(['http:', 'https:']),
  BLIPLINE_AUTH: z.enum(['oidc', 'anonymous'], { error: 'must be oidc or anonymous' }).default('oidc'),
  BLIPLINE_OIDC_ISSUER: optionalUrl(['http:', 'https:']),
  BLIPLINE_OIDC_AUDIENCE: optionalString,
  BLIPLINE_OIDC_CLIENT_ID: optionalString,
  BLIPLINE_OIDC_LOGOUT_URL: optionalUrl(['http:', 'https:']),
  BLIPLINE_USER_SCOPE: z.string().trim().min(1).default('blipline/images'),
  BLIPLINE_OPERATOR_SCOPE: z.string().trim().min(1).default('blipline/operator'),
  BLIPLINE_QUOTA_UPLOADS_PER_DAY: positiveInt(100),
  BLIPLINE_QUOTA_UPLOAD_BYTES_PER_DAY: positiveInt(524_288_000),
  BLIPLINE_QUOTA_QUESTIONS_PER_IMAGE: positiveInt(20),
  BLIPLINE_QUOTA_QUESTIONS_PER_MINUTE: positiveInt(10),
  BLIPLINE_ORIGIN_VERIFY_SECRET: optionalString,
  BLIPLINE_OBJECT_ID_SECRET: optionalString.refine((v) => v === undefined || v.length >= 32, 'must be at least 32 characters'),
  BLIPLINE_VISIBILITY_TIMEOUT_SECONDS: positiveInt(60).pipe(z.number().max(43_200, 'must be at most 43200 (12 h, the SQS maximum)')),
  BLIPLINE_RECEIVE_WAIT_SECONDS: z.preprocess((v) => (v === undefined || v === '' ? 20 : v), z.coerce.number().int('must be an integer').min(0).max(20, 'must be at most 20 (the SQS maximum)')),
  BLIPLINE_RECEIVE_BATCH_SIZE: positiveInt(10).pipe(z.number().max(10, 'must be at most 10 (the SQS maximum)')),
  BLIPLINE_CLAIM_LEASE_SECONDS: z.preprocess((v) => (v === '' ? undefined : v), z.coerce.number().int('must be an integer').positive('must be positive').optional()),
  BLIPLINE_MAX_JOB_SECONDS: positiveInt(900),
  BLIPLINE_MAX_PIXELS: positiveInt(50_000_000),
  BLIPLINE_DECODER_ROWS: z.preprocess((v) => (v === '' ? undefined : v), z.coerce.number().int('must be an integer').positive('must be positive').max(64, 'must be at most 64').optional()),
  BLIPLINE_EVENT_BUS: optionalString,
  BLIPLINE_EVENTS_QUEUE_URL: optionalUrl(['http:', 'https:']),
  BLIPLINE_WEBHOOK_QUEUE_URL: optionalUrl(['http:', 'https:']),
  BLIPLINE_WEBHOOK_SECRET: optionalString.refine((v) => v === undefined || /^(whsec_)?[A-Za-z0-9+/]{32,}={0,2}$/.test(v), 'must be at least 24 bytes in base64, with or without the whsec_ prefix'),
  BLIPLINE_WEBHOOK_ALLOW_HTTP: flag,
  BLIPLINE_WEBHOOK_ALLOW_PRIVATE: flag,
  BLIPLINE_WEBHOOK_HOSTS: optionalString,
  BLIPLINE_WEBHOOK_ATTEMPTS: positiveInt(8),
  BLIPLINE_WEBHOOK_VISIBILITY_SECONDS: positiveInt(30).pipe(z.number().min(2, 'must be at least 2').max(3_600, 'must be at most 3600')),
  BLIPLINE_WEBHOOK_TIMEOUT_SECONDS: positiveInt(10).pipe(z.number().max(30, 'must be at most 30')),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
});

const unsetIfEmpty = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), schema.optional());

/**
 * The variables the CLI and the local runtime read on their own (outside `loadConfig`): each is
 * optional, an empty value counts as unset, and a set value must be valid.
 */
const runtimeEnvSchema = z.object({
  LOG_LEVEL: unsetIfEmpty(z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` })),
  BLIPLINE_MODEL: unsetIfEmpty(z.string().trim()),
  BLIPLINE_VQA_MODEL: unsetIfEmpty(z.string().trim()),
  BLIPLINE_PRECISION: unsetIfEmpty(z.enum(['fp32', 'int8'], { error: 'must be fp32 or int8' })),
  BLIPLINE_CACHE_DIR: unsetIfEmpty(z.string()),
  BLIPLINE_FIXTURES: unsetIfEmpty(z.string()),
  PORT: unsetIfEmpty(z.coerce.number({ error: 'must be a port number' }).int('must be an integer').min(0).max(65_535, 'must be at most 65535')),
  HOST: unsetIfEmpty(z.string().trim()),
  /** Set by ECS in every task: the agent's endpoint (task scale-in protection, services/worker/task-protection.ts). */
  ECS_AGENT_URI: unsetIfEmpty(url(['http:', 'https:'])),
});
export type RuntimeEnv = z.output<typeof runtimeEnvSchema>;

/**
 * One variable of the runtime environment, validated; throws a ConfigError naming it when its
 * value is invalid. Reading one variable at a time keeps an unrelated bad variable from failing
 * a command that never uses it.
 */
export function runtimeEnv<K extends keyof RuntimeEnv>(name: K, env: NodeJS.ProcessEnv = process.env): RuntimeEnv[K] {
  const parsed = runtimeEnvSchema.shape[name].safeParse(env[name]);
  if (!parsed.success) throw new ConfigError([`${name}: ${parsed.error.issues[0]?.message ?? 'is invalid'} (got ${JSON.stringify(env[name])})`]);
  return parsed.data as RuntimeEnv[K];
}

export interface Config {
  region: string;
  bucket: string;
  queueUrl: string;
  table: string;
  /** Absent: the Redis cache is disabled. */
  redisUrl: string | undefined;
  redisKeyPrefix: string;
  /** RBAC user of the cache (Valkey/Redis ACL); absent: the default user. */
  redisUsername: string | undefined;
  /** The user's password: BLIPLINE_REDIS_PASSWORD, or read at start from BLIPLINE_REDIS_PASSWORD_SECRET_ARN (resolveRedisPassword). */
  redisPassword: string | undefined;
  /** Secrets Manager secret holding the password (the Lambda reads it once at cold start). */
  redisPasswordSecretArn: string | undefined;
  s3Endpoint: string | undefined;
  sqsEndpoint: string | undefined;
  dynamodbEndpoint: string | undefined;
  maxUploadBytes: number;
  uploadExpiresSeconds: number;
  /** `'*'` or an explicit list of origins. */
  allowedOrigins: '*' | string[];
  model: string | undefined;
  vqaModel: string | undefined;
  precision: 'fp32' | 'int8';
  webDir: string;
  recordTtlDays: number;
  /** The queue's redrive maxReceiveCount: the receive on which a failing job is recorded as failed. */
  maxReceiveCount: number;
  /** The questions queue (VQA jobs): its own queue, so questions never hold up captions. */
  questionQueueUrl: string;
  /** Who may call the API: bearer tokens of an OpenID issuer, or nobody checked (a private demo). */
  auth: AuthConfig;
  /** Per-owner limits, counted in DynamoDB (shared by every API instance). */
  quotas: QuotaLimits;
  /** When set, every request but GET /healthz must carry `x-origin-verify` with this value (CloudFront adds it). */
  originVerifySecret: string | undefined;
  /** Worker: the key of the HMAC that turns a dropped object's key into its image id; absent in the API. */
  objectIdSecret: string | undefined;
  /** Worker: visibility timeout requested on receive and renewed by the heartbeat; also the caption claim lease. */
  visibilityTimeoutSeconds: number;
  /** Worker: long-poll wait of each receive (0..20 s). */
  receiveWaitSeconds: number;
  /** Worker: messages per receive (1..10). */
  receiveBatchSize: number;
  /** Worker: lease of a caption claim (renewed while the model runs; a dead worker's claim lapses after it). Default: the visibility timeout. */
  claimLeaseSeconds: number;
  /**
   * Worker: deadline of one receive's jobs. Past it S3 calls are aborted, the heartbeat stops renewing the
   * messages and caption claims, and the messages come back for redelivery. Default 900 (15 min).
   */
  maxJobSeconds: number;
  /** Worker: largest decoded image (width x height); larger ones fail `too_many_pixels` (JPEGs above it are decoded shrunk). Default 50000000. */
  maxPixels: number;
  /** Worker: decoder rows (images x beams) generated together, memory vs batching. Default: the runtime's (2). */
  decoderRows: number | undefined;
  /** Result events: EventBridge on `busName` (the default bus when undefined), or, when `queueUrl` is set (the local stack), its envelopes on that SQS queue. */
  events: { busName: string | undefined; queueUrl: string | undefined };
  webhooks: WebhookConfig;
  logLevel: LogLevel;
}

export interface WebhookConfig {
  /** The delivery queue; absent: uploads may not name a webhook. */
  queueUrl: string | undefined;
  /** Worker: `whsec_<base64>` (the prefix optional), the Standard Webhooks signing secret. */
  secret: string | undefined;
  /** http:// URLs accepted (the local stack only); else https only. */
  allowHttp: boolean;
  /** Loopback targets allowed (the local stack only); private, link-local and metadata addresses never are. */
  allowPrivate: boolean;
  /** When non-empty, the only hosts a webhook may name (exact names, or `.example.com` for its subdomains). */
  hosts: string[];
  /** Delivery attempts: the delivery queue's maxReceiveCount (after the last the job is in the DLQ). */
  attempts: number;
  /** Visibility of a delivery in work (renewed while it runs); a failed attempt waits this · 2^attempt before the next. */
  visibilityTimeoutSeconds: number;
  /** Longest wait for a receiver's complete answer. Default 10. */
  timeoutSeconds: number;
}

export interface QuotaLimits {
  uploadsPerDay: number;
  uploadBytesPerDay: number;
  questionsPerImage: number;
  questionsPerMinute: number;
}

export type AuthConfig =
  | {
      mode: 'oidc';
      issuer: string;
      /** A token is accepted when its `aud` holds one of these, or (no `aud`, as in Cognito access tokens) its `client_id` is one. */
      audiences: string[];
      /** The page's public client (authorization code + PKCE). */
      webClientId: string | undefined;
      logoutUrl: string | undefined;
      userScope: string;
      operatorScope: string;
    }
  | { mode: 'anonymous'; userScope: string; operatorScope: string };

/**
 * Reads and validates the configuration. Throws one ConfigError naming every missing or invalid
 * variable, so a misconfigured deployment fails at start with the whole list.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: { requireModel?: boolean } = {}): Config {
  const result = envSchema.safeParse(env);
  const issues: string[] = [];
  if (!result.success) {
    for (const issue of result.error.issues) {
      const name = issue.path.join('.');
      const missing = env[name] === undefined || env[name] === '';
      issues.push(`${name}: ${missing && issue.code === 'invalid_type' ? 'is required' : issue.message}`);
    }
  }
  if (result.success && result.data.BLIPLINE_REDIS_PASSWORD !== undefined && result.data.BLIPLINE_REDIS_PASSWORD_SECRET_ARN !== undefined) {
    issues.push('BLIPLINE_REDIS_PASSWORD_SECRET_ARN: set either it or BLIPLINE_REDIS_PASSWORD, not both');
  }
  if (options.requireModel && (env.BLIPLINE_MODEL ?? '').trim() === '') {
    issues.push('BLIPLINE_MODEL: is required (a captioning model directory or Hugging Face Hub id)');
  }
  if (result.success && result.data.BLIPLINE_AUTH === 'oidc') {
    if (result.data.BLIPLINE_OIDC_ISSUER === undefined) issues.push('BLIPLINE_OIDC_ISSUER: is required unless BLIPLINE_AUTH=anonymous (the OpenID issuer whose tokens the API accepts)');
    if (result.data.BLIPLINE_OIDC_AUDIENCE === undefined) issues.push('BLIPLINE_OIDC_AUDIENCE: is required unless BLIPLINE_AUTH=anonymous (the audience or client ids the API accepts)');
  }
  if (!result.success || issues.length > 0) throw new ConfigError(issues);
  const e = result.data;
  const list = (v: string | undefined) => (v ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  const scopes = { userScope: e.BLIPLINE_USER_SCOPE, operatorScope: e.BLIPLINE_OPERATOR_SCOPE };
  const auth: AuthConfig =
    e.BLIPLINE_AUTH === 'anonymous'
      ? { mode: 'anonymous', ...scopes }
      : { mode: 'oidc', issuer: e.BLIPLINE_OIDC_ISSUER!, audiences: list(e.BLIPLINE_OIDC_AUDIENCE), webClientId: e.BLIPLINE_OIDC_CLIENT_ID, logoutUrl: e.BLIPLINE_OIDC_LOGOUT_URL, ...scopes };
  const origins = e.BLIPLINE_ALLOWED_ORIGINS.split(',')
    .map((o) => o.trim())
    .filter((o) => o !== '');
  return {
    region: e.AWS_REGION,
    bucket: e.BLIPLINE_BUCKET,
    queueUrl: e.BLIPLINE_QUEUE_URL,
    table: e.BLIPLINE_TABLE,
    redisUrl: e.BLIPLINE_REDIS_URL,
    redisKeyPrefix: e.BLIPLINE_REDIS_PREFIX,
    redisUsername: e.BLIPLINE_REDIS_USERNAME,
    redisPassword: e.BLIPLINE_REDIS_PASSWORD,
    redisPasswordSecretArn: e.BLIPLINE_REDIS_PASSWORD_SECRET_ARN,
    s3Endpoint: e.BLIPLINE_S3_ENDPOINT,
    sqsEndpoint: e.BLIPLINE_SQS_ENDPOINT,
    dynamodbEndpoint: e.BLIPLINE_DYNAMODB_ENDPOINT,
    maxUploadBytes: e.BLIPLINE_MAX_UPLOAD_BYTES,
    uploadExpiresSeconds: e.BLIPLINE_UPLOAD_EXPIRES_SECONDS,
    allowedOrigins: origins.length === 0 || origins.includes('*') ? '*' : origins,
    model: e.BLIPLINE_MODEL,
    vqaModel: e.BLIPLINE_VQA_MODEL,
    precision: e.BLIPLINE_PRECISION,
    webDir: path.resolve(e.BLIPLINE_WEB_DIR),
    recordTtlDays: e.BLIPLINE_RECORD_TTL_DAYS,
    maxReceiveCount: e.BLIPLINE_MAX_RECEIVE_COUNT,
    questionQueueUrl: e.BLIPLINE_QUESTION_QUEUE_URL,
    auth,
    quotas: {
      uploadsPerDay: e.BLIPLINE_QUOTA_UPLOADS_PER_DAY,
      uploadBytesPerDay: e.BLIPLINE_QUOTA_UPLOAD_BYTES_PER_DAY,
      questionsPerImage: e.BLIPLINE_QUOTA_QUESTIONS_PER_IMAGE,
      questionsPerMinute: e.BLIPLINE_QUOTA_QUESTIONS_PER_MINUTE,
    },
    originVerifySecret: e.BLIPLINE_ORIGIN_VERIFY_SECRET,
    objectIdSecret: e.BLIPLINE_OBJECT_ID_SECRET,
    visibilityTimeoutSeconds: e.BLIPLINE_VISIBILITY_TIMEOUT_SECONDS,
    receiveWaitSeconds: e.BLIPLINE_RECEIVE_WAIT_SECONDS,
    receiveBatchSize: e.BLIPLINE_RECEIVE_BATCH_SIZE,
    claimLeaseSeconds: e.BLIPLINE_CLAIM_LEASE_SECONDS ?? e.BLIPLINE_VISIBILITY_TIMEOUT_SECONDS,
    maxJobSeconds: e.BLIPLINE_MAX_JOB_SECONDS,
    maxPixels: e.BLIPLINE_MAX_PIXELS,
    decoderRows: e.BLIPLINE_DECODER_ROWS,
    events: { busName: e.BLIPLINE_EVENT_BUS, queueUrl: e.BLIPLINE_EVENTS_QUEUE_URL },
    webhooks: {
      queueUrl: e.BLIPLINE_WEBHOOK_QUEUE_URL,
      secret: e.BLIPLINE_WEBHOOK_SECRET,
      allowHttp: e.BLIPLINE_WEBHOOK_ALLOW_HTTP,
      allowPrivate: e.BLIPLINE_WEBHOOK_ALLOW_PRIVATE,
      hosts: list(e.BLIPLINE_WEBHOOK_HOSTS).map((h) => h.toLowerCase()),
      attempts: e.BLIPLINE_WEBHOOK_ATTEMPTS,
      visibilityTimeoutSeconds: e.BLIPLINE_WEBHOOK_VISIBILITY_SECONDS,
      timeoutSeconds: e.BLIPLINE_WEBHOOK_TIMEOUT_SECONDS,
    },
    logLevel: e.LOG_LEVEL,
  };
}

/** The tiny fixture checkpoints: BLIPLINE_FIXTURES, else ../shared/fixtures/blip-tiny next to the repository. */
export function fixturesDir(): string {
  return runtimeEnv('BLIPLINE_FIXTURES') ?? path.resolve(repoRoot, '../shared/fixtures/blip-tiny');
}

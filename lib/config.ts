import { Duration, RemovalPolicy, type StackProps } from 'aws-cdk-lib';
import { DEFAULT_SCALING, derivePolicy, type ScalingPolicy } from '../services/scaling/policy.js';
import { ScalingSettingsError } from '../services/scaling/errors.js';
import type { EventsProps } from './constructs/events.js';
import { StackConfigError } from './errors.js';
import {
  type ApiDomainProps,
  type AuthProps,
  type EdgeProps,
  type QuotaProps,
  type ResolvedEdge,
  type ResolvedIdentity,
  type ResolvedQuotas,
  type RetentionProps,
  resolveApiDomain,
  resolveDroppedObjectDays,
  resolveEdge,
  resolveIdentity,
  resolveQuotas,
} from './security-config.js';
import { fail, int } from './validate.js';

/** Fargate's upper bound for a container's stopTimeout (SIGTERM → SIGKILL). */
export const FARGATE_MAX_STOP_TIMEOUT_SECONDS = 120;
/** Time left after the worst-case job within the stop timeout (finish the write, delete the message, exit). */
const STOP_MARGIN_SECONDS = 15;

/** Valid Fargate CPU/memory pairs for the worker (CPU units → allowed memory MiB). */
const FARGATE_MEMORY: Record<number, (m: number) => boolean> = {
  1024: (m) => m >= 2048 && m <= 8192 && m % 1024 === 0,
  2048: (m) => m >= 4096 && m <= 16384 && m % 1024 === 0,
  4096: (m) => m >= 8192 && m <= 30720 && m % 1024 === 0,
  8192: (m) => m >= 16384 && m <= 61440 && m % 4096 === 0,
};

export interface WorkerScalingProps {
  /**
   * Seconds one worker task needs per image at the configured size and precision.
   * @default 1.0 (int8 on 2 vCPU; fp32 is about 1.5)
   */
  readonly secondsPerImage?: number;
  /**
   * Queue wait the scale-out target aims for: target backlog per task = this ÷ secondsPerImage.
   * @default Duration.seconds(60)
   */
  readonly acceptableLatency?: Duration;
  /**
   * Most worker tasks.
   * @default 10
   */
  readonly maxTasks?: number;
  /**
   * How the first tasks start from zero: 'single' starts one, 'tiered' sizes the first step from
   * the backlog (1, 2, 4, ... up to maxTasks).
   * @default 'tiered'
   */
  readonly coldStart?: 'single' | 'tiered';
  /**
   * Cooldown after a target-tracking scale-out.
   * @default Duration.seconds(60)
   */
  readonly scaleOutCooldown?: Duration;
  /**
   * How long the queue must be empty (nothing visible, nothing in flight) before all tasks stop.
   * @default Duration.minutes(10)
   */
  readonly scaleInIdle?: Duration;
  /**
   * Cooldown between two target-tracking scale-ins (tasks holding messages are protected from scale-in).
   * @default Duration.seconds(300)
   */
  readonly scaleInCooldown?: Duration;
}

export interface BliplineStackProps extends StackProps {
  /**
   * Result events (EventBridge) and webhooks: the bus, webhook hosts and attempts (lib/constructs/events.ts).
   * @default a bus of the stack's own, any public https webhook host, 8 attempts
   */
  readonly events?: EventsProps;
  /**
   * How callers sign in: a Cognito user pool the stack creates, an existing OpenID Connect issuer, or
   * (private demos only, with allowAnonymous) nobody.
   * @default { mode: 'cognito' }
   */
  readonly auth?: AuthProps;
  /**
   * Must be true, and only then, when auth.mode is 'anonymous': the stack refuses an anonymous API
   * unless told so in words.
   * @default false
   */
  readonly allowAnonymous?: boolean;
  /** Per-owner quotas; see QuotaProps for the defaults. */
  readonly quotas?: QuotaProps;
  /** CloudFront + WAF in front of the page and the API; see EdgeProps (on by default). */
  readonly edge?: EdgeProps;
  /**
   * A custom domain of the HTTP API; with it the execute-api endpoint is disabled.
   * @default - none: the execute-api endpoint stays on and, behind the edge, refuses requests
   * without CloudFront's secret x-origin-verify header
   */
  readonly apiDomain?: ApiDomainProps;
  /** Expiry of dropped objects and logs; see RetentionProps (API uploads: uploadRetentionDays). */
  readonly retention?: RetentionProps;
  /**
   * Browser origins allowed by the bucket's CORS rule and the API's CORS, besides the stack's own
   * page origin (always allowed). Use them for pages served elsewhere.
   * @default [] (only the stack's own page)
   */
  readonly allowedOrigins?: string[];
  /**
   * Only objects whose key starts with this prefix are captioned. The empty string captions every
   * object dropped into the bucket (API uploads go to `uploads/`).
   * @default '' (all keys)
   */
  readonly notificationPrefix?: string;
  /**
   * Objects under `uploads/` expire after this many days (records expire after recordTtlDays).
   * @default 30
   */
  readonly uploadRetentionDays?: number;
  /**
   * Days an image record lives in the table (DynamoDB TTL).
   * @default 30
   */
  readonly recordTtlDays?: number;
  /**
   * Largest upload the API signs, in bytes.
   * @default 33554432 (32 MiB: a 48-50 MP phone JPEG is often 10-20 MB)
   */
  readonly maxUploadBytes?: number;
  /**
   * Lifetime of a presigned upload: the page uploads right after asking, so a minute is plenty and a
   * leaked URL is short-lived (each URL is also one-shot: If-None-Match: *).
   * @default Duration.seconds(60)
   */
  readonly uploadExpires?: Duration;
  /**
   * Hugging Face Hub id of the captioning checkpoint baked into the worker image: `owner/name`, or
   * `owner/name@revision` pinned to a commit sha or tag (a branch such as main moves between builds).
   * @default 'Salesforce/blip-image-captioning-base'
   */
  readonly captionModel?: string;
  /**
   * Hub id of the VQA checkpoint baked into the worker image (`owner/name[@revision]`); '' leaves questions off.
   * @default 'Salesforce/blip-vqa-base'
   */
  readonly vqaModel?: string;
  /**
   * Where the image build finds a Hugging Face token for gated or private models, on the machine that builds:
   * an environment variable (`{ env: 'HF_TOKEN' }`) or a file (`{ file: '/path/to/token' }`). It reaches the
   * build as a Docker build secret (`hf_token`, mounted only while the models download), never as a build
   * argument, so no image layer or template holds it.
   * @default - none (public models)
   */
  readonly modelAccessToken?: { readonly env: string } | { readonly file: string };
  /**
   * Graph precision the worker runs.
   * @default 'int8'
   */
  readonly precision?: 'int8' | 'fp32';
  /**
   * Worker task CPU units (1024 = 1 vCPU).
   * @default 2048
   */
  readonly workerCpu?: number;
  /**
   * Worker task memory in MiB.
   * @default 4096
   */
  readonly workerMemoryMiB?: number;
  /**
   * Decoder rows (images x beams) a worker generates together (BLIPLINE_DECODER_ROWS). Each holds
   * its image's states (3.4 MiB at BLIP-base with their transpose): 8 rows caption faster than the
   * runtime's default and fit the 4 GiB a 2-vCPU Fargate task has at least (README, Performance).
   * @default 8
   */
  readonly workerDecoderRows?: number;
  /**
   * Worker CPU architecture; the image is built for it.
   * @default 'x86_64'
   */
  readonly workerArchitecture?: 'x86_64' | 'arm64';
  /**
   * Longest one job takes on one task: a receive batch (up to 10 images, or questions) at the
   * measured seconds per image, with margin. Sizes the queue's visibility timeout (3×; the worker
   * also extends it) and must fit in Fargate's 120 s stop timeout with a margin.
   * @default Duration.seconds(30)
   */
  readonly worstCaseJobTime?: Duration;
  /**
   * Receives before a message moves to the dead-letter queue.
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /** Worker scaling; see WorkerScalingProps. */
  readonly scaling?: WorkerScalingProps;
  /**
   * API Gateway steady-state request rate (requests per second) for the whole API.
   * @default 50
   */
  readonly apiRateLimit?: number;
  /**
   * API Gateway burst (requests).
   * @default 100
   */
  readonly apiBurstLimit?: number;
  /**
   * Alarm when the oldest message has waited longer than this.
   * @default Duration.minutes(10)
   */
  readonly oldestMessageAlarmAge?: Duration;
  /**
   * E-mail address subscribed to the alarm topic.
   * @default - no subscription (the topic ARN is a stack output)
   */
  readonly alarmEmail?: string;
  /**
   * What happens to the bucket and table when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly dataRemovalPolicy?: RemovalPolicy;
  /**
   * Directory of the built upload page bundled with the API (`npm run build:web` makes it).
   * @default '<repo>/services/web/dist'
   */
  readonly webDir?: string;
  /**
   * TypeScript entry of the API's Lambda handler.
   * @default '<repo>/services/api/lambda.ts'
   */
  readonly apiEntry?: string;
}

/** Every setting resolved to a concrete value, validated. */
export interface ResolvedConfig {
  identity: ResolvedIdentity;
  quotas: ResolvedQuotas;
  edge: ResolvedEdge;
  apiDomain: ApiDomainProps | undefined;
  /** Days dropped objects are kept; undefined: no expiry. */
  droppedObjectDays: number | undefined;
  accessLogDays: number;
  /** Extra origins; the stack's own page origin is added where it is known. */
  allowedOrigins: string[];
  notificationPrefix: string;
  uploadRetentionDays: number;
  recordTtlDays: number;
  maxUploadBytes: number;
  uploadExpiresSeconds: number;
  captionModel: string;
  vqaModel: string;
  modelAccessToken: { env: string } | { file: string } | undefined;
  precision: 'int8' | 'fp32';
  workerCpu: number;
  workerMemoryMiB: number;
  workerDecoderRows: number;
  workerArchitecture: 'x86_64' | 'arm64';
  worstCaseJobSeconds: number;
  visibilityTimeoutSeconds: number;
  stopTimeoutSeconds: number;
  maxReceiveCount: number;
  scaling: ScalingPolicy;
  apiRateLimit: number;
  apiBurstLimit: number;
  oldestMessageAlarmSeconds: number;
  alarmEmail: string | undefined;
  dataRemovalPolicy: RemovalPolicy;
  webDir: string | undefined;
  apiEntry: string | undefined;
}


const ORIGIN = /^(\*|https?:\/\/[^/\s*]+(:\d+)?)$/;
/** `owner/name` or `owner/name@revision` (commit sha, tag or branch), as services/blip/source reads them. */
const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*(@[\w./-]+)?$/;
const isHubId = (id: string) => HUB_ID.test(id) && !id.includes('..');

/** Applies the documented defaults and validates; throws StackConfigError saying what to change. */
export function resolveConfig(props: BliplineStackProps = {}): ResolvedConfig {
  const allowedOrigins = props.allowedOrigins ?? [];
  for (const origin of allowedOrigins) {
    if (!ORIGIN.test(origin)) {
      fail(`allowedOrigins entry ${JSON.stringify(origin)} is not an origin; use scheme://host[:port] with no path, e.g. 'https://example.com'`);
    }
  }
  const notificationPrefix = props.notificationPrefix ?? '';
  if (notificationPrefix.startsWith('/')) fail(`notificationPrefix must not start with '/' (S3 keys have no leading slash); use e.g. 'uploads/'`);

  const captionModel = props.captionModel ?? 'Salesforce/blip-image-captioning-base';
  const pinHint = "use 'owner/name', or 'owner/name@revision' pinned to a commit sha or tag";
  if (!isHubId(captionModel)) fail(`captionModel ${JSON.stringify(captionModel)} is not a Hugging Face Hub id; ${pinHint}`);
  const vqaModel = props.vqaModel ?? 'Salesforce/blip-vqa-base';
  if (vqaModel !== '' && !isHubId(vqaModel)) fail(`vqaModel ${JSON.stringify(vqaModel)} is not a Hugging Face Hub id; ${pinHint}, or '' to leave questions off`);
  const token = props.modelAccessToken;
  if (token !== undefined && 'env' in token && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(token.env)) {
    fail(`modelAccessToken.env ${JSON.stringify(token.env)} is not an environment variable name; use e.g. { env: 'HF_TOKEN' }`);
  }
  if (token !== undefined && 'file' in token && (token.file.trim() === '' || token.file.includes(','))) {
    fail(`modelAccessToken.file ${JSON.stringify(token.file)} must be a file path without commas (Docker's --secret syntax)`);
  }

  const workerCpu = props.workerCpu ?? 2048;
  const memoryRule = FARGATE_MEMORY[workerCpu];
  if (memoryRule === undefined) fail(`workerCpu must be one of ${Object.keys(FARGATE_MEMORY).join(', ')} (got ${workerCpu})`);
  const workerMemoryMiB = props.workerMemoryMiB ?? Math.max(4096, workerCpu * 2);
  if (!memoryRule(workerMemoryMiB)) {
    fail(`workerMemoryMiB ${workerMemoryMiB} is not a valid Fargate size for workerCpu ${workerCpu}; see the Fargate task size table (2048 CPU takes 4096-16384 MiB in 1024 steps)`);
  }

  const worstCaseJobSeconds = (props.worstCaseJobTime ?? Duration.seconds(30)).toSeconds({ integral: false });
  const maxJob = FARGATE_MAX_STOP_TIMEOUT_SECONDS - STOP_MARGIN_SECONDS;
  if (worstCaseJobSeconds <= 0 || worstCaseJobSeconds > maxJob) {
    fail(
      `worstCaseJobTime must be from 1 to ${maxJob} s (got ${worstCaseJobSeconds} s): a task told to stop must finish its job within Fargate's ${FARGATE_MAX_STOP_TIMEOUT_SECONDS} s stop timeout; make jobs shorter (int8, fewer beams, fewer new tokens) or give tasks more vCPUs`,
    );
  }

  const s = props.scaling ?? {};
  let scaling: ScalingPolicy;
  try {
    scaling = derivePolicy({
      secondsPerImage: s.secondsPerImage ?? DEFAULT_SCALING.secondsPerImage,
      acceptableLatencySeconds: (s.acceptableLatency ?? Duration.seconds(DEFAULT_SCALING.acceptableLatencySeconds)).toSeconds({ integral: false }),
      maxTasks: s.maxTasks ?? DEFAULT_SCALING.maxTasks,
      coldStart: s.coldStart ?? DEFAULT_SCALING.coldStart,
      scaleOutCooldownSeconds: (s.scaleOutCooldown ?? Duration.seconds(DEFAULT_SCALING.scaleOutCooldownSeconds)).toSeconds({ integral: false }),
      scaleInIdleMinutes: (s.scaleInIdle ?? Duration.minutes(DEFAULT_SCALING.scaleInIdleMinutes)).toMinutes({ integral: false }),
      scaleInCooldownSeconds: (s.scaleInCooldown ?? Duration.seconds(DEFAULT_SCALING.scaleInCooldownSeconds)).toSeconds({ integral: false }),
    });
  } catch (cause) {
    if (cause instanceof ScalingSettingsError) throw new StackConfigError(`scaling.${cause.message}`, { cause });
    throw cause;
  }

  const alarmEmail = props.alarmEmail;
  if (alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(alarmEmail)) fail(`alarmEmail ${JSON.stringify(alarmEmail)} is not an e-mail address`);

  const recordTtlDays = int('recordTtlDays', props.recordTtlDays ?? 30, 1, 3650, 'records expire after it');
  return {
    identity: resolveIdentity(props.auth, props.allowAnonymous),
    quotas: resolveQuotas(props.quotas),
    edge: resolveEdge(props.edge),
    apiDomain: resolveApiDomain(props.apiDomain),
    droppedObjectDays: resolveDroppedObjectDays(props.retention?.droppedObjectDays),
    accessLogDays: int('retention.accessLogDays', props.retention?.accessLogDays ?? 90, 1, 3650, 'access logs expire after it'),
    allowedOrigins,
    notificationPrefix,
    uploadRetentionDays: int('uploadRetentionDays', props.uploadRetentionDays ?? 30, 1, 3650, 'objects under uploads/ expire after it'),
    recordTtlDays,
    maxUploadBytes: int('maxUploadBytes', props.maxUploadBytes ?? 33_554_432, 1, 5 * 1024 ** 3, 'a single presigned PUT carries at most 5 GiB'),
    uploadExpiresSeconds: int('uploadExpires', (props.uploadExpires ?? Duration.seconds(60)).toSeconds({ integral: false }), 1, 604_800, 'presigned URLs last at most 7 days'),
    captionModel,
    vqaModel,
    modelAccessToken: token,
    precision: props.precision ?? 'int8',
    workerCpu,
    workerMemoryMiB,
    workerDecoderRows: int('workerDecoderRows', props.workerDecoderRows ?? 8, 1, 64, 'each row holds its image states, 3.4 MiB at BLIP-base'),
    workerArchitecture: props.workerArchitecture ?? 'x86_64',
    worstCaseJobSeconds,
    visibilityTimeoutSeconds: Math.max(30, Math.ceil(worstCaseJobSeconds * 3)),
    stopTimeoutSeconds: FARGATE_MAX_STOP_TIMEOUT_SECONDS,
    maxReceiveCount: int('maxReceiveCount', props.maxReceiveCount ?? 5, 1, 1000, 'a poison message reaches the dead-letter queue after this many receives'),
    scaling,
    apiRateLimit: int('apiRateLimit', props.apiRateLimit ?? 50, 1, 10_000, 'requests per second for the whole API'),
    apiBurstLimit: int('apiBurstLimit', props.apiBurstLimit ?? 100, 1, 5_000, 'burst requests for the whole API'),
    oldestMessageAlarmSeconds: int('oldestMessageAlarmAge', (props.oldestMessageAlarmAge ?? Duration.minutes(10)).toSeconds({ integral: false }), 60, 86_400, 'from one minute to one day'),
    alarmEmail,
    dataRemovalPolicy: props.dataRemovalPolicy ?? RemovalPolicy.RETAIN,
    webDir: props.webDir,
    apiEntry: props.apiEntry,
  };
}

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { Config } from '../core/config.js';

type ClientConfig = Pick<Config, 'region' | 's3Endpoint' | 'sqsEndpoint' | 'dynamodbEndpoint'>;

/**
 * Socket timeouts of every client, so a hung connection fails instead of stalling a job forever:
 * `connectionTimeout` to establish it, `requestTimeout` for the whole request (and as the idle-socket limit).
 * SQS's must outlast a 20 s long poll. A timed-out call is retried by the SDK like any transient error.
 */
export interface TimeoutOptions {
  /** @default 3000 */
  connectionTimeoutMs?: number;
  /** @default 60000 (S3: a 10 MB object on a slow link), 30000 (SQS: above the 20 s long poll), 10000 (DynamoDB), 5000 (Secrets Manager) */
  requestTimeoutMs?: number;
}

const requestHandler = (options: TimeoutOptions, requestTimeoutMs: number) => {
  const timeout = options.requestTimeoutMs ?? requestTimeoutMs;
  return {
    connectionTimeout: options.connectionTimeoutMs ?? 3_000,
    // The handler only warns on requestTimeout unless told to throw; socketTimeout bounds an idle socket as well.
    requestTimeout: timeout,
    throwOnRequestTimeout: true,
    socketTimeout: timeout,
  };
};

/**
 * S3 client. With an endpoint override (local emulator) it uses path-style addressing. Checksums are
 * only computed when an operation requires them: presigned PUTs stay plain URLs a browser can use.
 */
export function createS3Client(config: ClientConfig, options: TimeoutOptions = {}): S3Client {
  return new S3Client({
    region: config.region,
    requestHandler: requestHandler(options, 60_000),
    ...(config.s3Endpoint ? { endpoint: config.s3Endpoint, forcePathStyle: true } : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export function createSqsClient(config: ClientConfig, options: TimeoutOptions = {}): SQSClient {
  return new SQSClient({ region: config.region, requestHandler: requestHandler(options, 30_000), ...(config.sqsEndpoint ? { endpoint: config.sqsEndpoint } : {}) });
}

/**
 * DynamoDB document client. Throttling and transient errors are retried by the SDK's standard retry
 * strategy (exponential backoff with jitter; throttles back off longer) up to `maxAttempts`.
 */
export function createDynamoClient(config: ClientConfig, options: { maxAttempts?: number } & TimeoutOptions = {}): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    region: config.region,
    requestHandler: requestHandler(options, 10_000),
    maxAttempts: options.maxAttempts ?? 8,
    retryMode: 'standard',
    ...(config.dynamodbEndpoint ? { endpoint: config.dynamodbEndpoint } : {}),
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/** Secrets Manager client (the Lambda reads the cache password with it once, at cold start). */
export function createSecretsClient(config: Pick<Config, 'region'> & { endpoint?: string }, options: TimeoutOptions = {}): SecretsManagerClient {
  return new SecretsManagerClient({ region: config.region, requestHandler: requestHandler(options, 5_000), ...(config.endpoint ? { endpoint: config.endpoint } : {}) });
}

export function createEventBridgeClient(config: Pick<Config, 'region'>, options: TimeoutOptions = {}): EventBridgeClient {
  return new EventBridgeClient({ region: config.region, requestHandler: requestHandler(options, 10_000) });
}

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Config } from '../core/config.js';

type ClientConfig = Pick<Config, 'region' | 's3Endpoint' | 'sqsEndpoint' | 'dynamodbEndpoint'>;

/**
 * S3 client. With an endpoint override (local emulator) it uses path-style addressing. Checksums are
 * only computed when an operation requires them: presigned PUTs stay plain URLs a browser can use.
 */
export function createS3Client(config: ClientConfig): S3Client {
  return new S3Client({
    region: config.region,
    ...(config.s3Endpoint ? { endpoint: config.s3Endpoint, forcePathStyle: true } : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export function createSqsClient(config: ClientConfig): SQSClient {
  return new SQSClient({ region: config.region, ...(config.sqsEndpoint ? { endpoint: config.sqsEndpoint } : {}) });
}

/**
 * DynamoDB document client. Throttling and transient errors are retried by the SDK's standard retry
 * strategy (exponential backoff with jitter; throttles back off longer) up to `maxAttempts`.
 */
export function createDynamoClient(config: ClientConfig, options: { maxAttempts?: number } = {}): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    region: config.region,
    maxAttempts: options.maxAttempts ?? 8,
    retryMode: 'standard',
    ...(config.dynamodbEndpoint ? { endpoint: config.dynamodbEndpoint } : {}),
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

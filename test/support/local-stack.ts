import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../services/local/index.js';

/**
 * Starts one local stack for the test file (beforeAll) and stops it afterwards (afterAll).
 * Returns a getter: call it inside tests/hooks, after beforeAll has run.
 *
 *   const stack = useLocalStack({ redis: 'own' });
 *   it('...', async () => { const env = stack().env(); ... });
 */
export function useLocalStack(options: LocalStackOptions = {}): () => LocalStack {
  let stack: LocalStack | undefined;
  beforeAll(async () => {
    stack = await startLocalStack({ logger: pino({ name: 'local-stack', level: 'warn' }), ...options });
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  }, 60_000);
  return () => {
    if (!stack) throw new Error('useLocalStack: the stack is not started yet (use it inside tests or hooks)');
    return stack;
  };
}

export interface LocalClients {
  /** Path-style; checksums only when required, so presigned PUT URLs carry no empty-body CRC32. */
  s3: S3Client;
  sqs: SQSClient;
  dynamodb: DynamoDBClient;
}

/** AWS SDK clients pointed at a stack from `useLocalStack`, created on first use, destroyed afterAll. */
export function useLocalClients(stack: () => LocalStack): () => LocalClients {
  let clients: LocalClients | undefined;
  afterAll(() => {
    clients?.s3.destroy();
    clients?.sqs.destroy();
    clients?.dynamodb.destroy();
  });
  return () => {
    if (!clients) {
      const { region, credentials, s3, sqs, dynamodb } = stack();
      clients = {
        s3: new S3Client({
          region,
          credentials,
          endpoint: s3.endpoint,
          forcePathStyle: true,
          requestChecksumCalculation: 'WHEN_REQUIRED',
        }),
        sqs: new SQSClient({ region, credentials, endpoint: sqs.endpoint }),
        dynamodb: new DynamoDBClient({ region, credentials, endpoint: dynamodb.endpoint }),
      };
    }
    return clients;
  };
}

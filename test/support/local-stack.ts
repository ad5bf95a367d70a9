import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { createTable } from '../../services/local/dynamodb.js';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../services/local/index.js';
import { objectCreatedNotification } from '../../services/local/s3-event.js';
import { createQueueWithDlq } from '../../services/local/sqs.js';

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

export interface LaneOptions {
  maxReceiveCount: number;
  visibilityTimeoutSeconds: number;
}

/**
 * One test's own resources on a shared stack: a bucket, a queue with its DLQ and a table, all with
 * fresh names, so no other test's messages, receives or records reach it. `put` writes an object to
 * the lane's bucket and sends the S3 event notification for it to the lane's queue, as the bucket
 * notification would (the stack's bridge also sends one to the stack's own queue, which lane tests
 * never read).
 */
export interface Lane {
  readonly bucket: string;
  readonly queueUrl: string;
  readonly dlqUrl: string;
  readonly table: string;
  /** Writes the object to the lane's bucket and returns the S3 event notification for it (not sent); `eventTime` defaults to now. */
  store(key: string, body: Uint8Array, eventTime?: Date): Promise<ReturnType<typeof objectCreatedNotification>>;
  /** `store`, then sends the notification to the lane's queue. */
  put(key: string, body: Uint8Array): Promise<void>;
}

export async function createLane(stack: LocalStack, options: LaneOptions): Promise<Lane> {
  const name = `lane-${randomUUID().slice(0, 12)}`;
  const { region, credentials } = stack;
  const sqs = new SQSClient({ region, credentials, endpoint: stack.sqs.endpoint });
  const dynamodb = new DynamoDBClient({ region, credentials, endpoint: stack.dynamodb.endpoint });
  try {
    // s3rver fails the SDK's signed CreateBucket (PUT /bucket/); it takes an anonymous one
    const created = await fetch(`${stack.s3.endpoint}/${name}`, { method: 'PUT' });
    if (!created.ok) throw new Error(`creating bucket ${name} failed: HTTP ${created.status} ${await created.text()}`);
    const { queueUrl, dlqUrl } = await createQueueWithDlq(sqs, stack.sqs.endpoint, { queueName: name, dlqName: `${name}-dlq`, ...options });
    await createTable(dynamodb, name);
    const lane: Lane = {
      bucket: name,
      queueUrl,
      dlqUrl,
      table: name,
      async store(key, body, eventTime) {
        const client = new S3Client({ region, credentials, endpoint: stack.s3.endpoint, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' });
        try {
          const out = await client.send(new PutObjectCommand({ Bucket: name, Key: key, Body: body }));
          return objectCreatedNotification({ region, bucket: name, key, size: body.byteLength, eTag: (out.ETag ?? '').replace(/"/g, ''), eventName: 'ObjectCreated:Put', ...(eventTime ? { eventTime } : {}) });
        } finally {
          client.destroy();
        }
      },
      async put(key, body) {
        const event = await lane.store(key, body);
        const queue = new SQSClient({ region, credentials, endpoint: stack.sqs.endpoint });
        try {
          await queue.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(event) }));
        } finally {
          queue.destroy();
        }
      },
    };
    return lane;
  } finally {
    sqs.destroy();
    dynamodb.destroy();
  }
}

import { DescribeTableCommand, DescribeTimeToLiveCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { LocalStackStartError, startLocalStack } from '../../services/local/index.js';
import { useLocalClients, useLocalStack } from '../support/local-stack.js';

// Default options: the shared Redis on 127.0.0.1:6379 (started by .ci/run), keys under a random prefix.
const stack = useLocalStack();

const clients = useLocalClients(stack);
const ddb = (): DynamoDBClient => clients().dynamodb;

describe('local stack', () => {
  it('binds every emulator endpoint to 127.0.0.1 and reports its start time', () => {
    const s = stack();
    for (const endpoint of [s.s3.endpoint, s.sqs.endpoint, s.dynamodb.endpoint]) {
      expect(new URL(endpoint).hostname).toBe('127.0.0.1');
    }
    expect(s.startupMs).toBeGreaterThan(0);
  });

  it('gives the API and worker their environment', () => {
    const s = stack();
    expect(s.env()).toEqual({
      AWS_REGION: s.region,
      AWS_ACCESS_KEY_ID: s.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s.credentials.secretAccessKey,
      BLIPLINE_BUCKET: s.s3.bucket,
      BLIPLINE_QUEUE_URL: s.sqs.queueUrl,
      BLIPLINE_QUESTION_QUEUE_URL: s.sqs.questionQueueUrl,
      BLIPLINE_TABLE: s.dynamodb.table,
      BLIPLINE_OIDC_ISSUER: s.oidc.issuer,
      BLIPLINE_OIDC_AUDIENCE: s.oidc.audience,
      BLIPLINE_OIDC_CLIENT_ID: s.oidc.webClientId,
      BLIPLINE_OBJECT_ID_SECRET: s.objectIdSecret,
      BLIPLINE_S3_ENDPOINT: s.s3.endpoint,
      BLIPLINE_SQS_ENDPOINT: s.sqs.endpoint,
      BLIPLINE_DYNAMODB_ENDPOINT: s.dynamodb.endpoint,
      BLIPLINE_REDIS_URL: 'redis://127.0.0.1:6379',
      BLIPLINE_REDIS_PREFIX: s.redisKeyPrefix,
    });
  });

  it('creates the table: pk (S) hash key only, on demand, TTL on `ttl`', async () => {
    const { Table } = await ddb().send(new DescribeTableCommand({ TableName: stack().dynamodb.table }));
    expect(Table?.KeySchema).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }]);
    expect(Table?.AttributeDefinitions).toEqual([{ AttributeName: 'pk', AttributeType: 'S' }]);
    expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    const { TimeToLiveDescription } = await ddb().send(new DescribeTimeToLiveCommand({ TableName: stack().dynamodb.table }));
    expect(TimeToLiveDescription).toEqual({ AttributeName: 'ttl', TimeToLiveStatus: 'ENABLED' });
  });

  it('keeps expired items (DynamoDB Local does not enforce TTL): readers must treat them as absent', async () => {
    const doc = DynamoDBDocumentClient.from(ddb());
    const expired = Math.floor(Date.now() / 1000) - 3600;
    await doc.send(new PutCommand({ TableName: stack().dynamodb.table, Item: { pk: 'test#expired', ttl: expired } }));
    const { Item } = await doc.send(new GetCommand({ TableName: stack().dynamodb.table, Key: { pk: 'test#expired' } }));
    expect(Item).toEqual({ pk: 'test#expired', ttl: expired });
  });

  it('uses the shared Redis under a random prefix and removes its keys on stop', async () => {
    const s = stack();
    expect(s.redisMode).toBe('shared');
    expect(s.redisKeyPrefix).toMatch(/^blipline-test:[0-9a-f]{12}:$/);
    const redis = createClient({ url: s.redisUrl });
    await redis.connect();
    try {
      await redis.set(`${s.redisKeyPrefix}probe`, '1');
      expect(await redis.get(`${s.redisKeyPrefix}probe`)).toBe('1');
      await s.stop();
      expect(await redis.exists(`${s.redisKeyPrefix}probe`)).toBe(0);
      await s.stop(); // idempotent (afterAll calls it once more)
    } finally {
      redis.destroy();
    }
  });
});

describe('start failures', () => {
  it('names every piece that cannot start and what to install', async () => {
    const emptyDir = await mkdtemp(path.join(tmpdir(), 'blipline-no-path-'));
    const savedPath = process.env.PATH;
    process.env.PATH = emptyDir; // no java, no redis-server
    try {
      const error = await startLocalStack({ redis: 'own', logger: pino({ level: 'silent' }) }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(LocalStackStartError);
      const failures = (error as LocalStackStartError).failures;
      expect(failures.map((f) => [f.piece, f.code]).sort()).toEqual([
        ['dynamodb', 'missing_dependency'],
        ['redis', 'missing_dependency'],
      ]);
      expect((error as Error).message).toContain('openjdk-17-jre-headless');
      expect((error as Error).message).toContain('apt-get install redis-server');
    } finally {
      process.env.PATH = savedPath;
      await rm(emptyDir, { recursive: true, force: true });
    }
  });
});

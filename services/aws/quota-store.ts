import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PK } from '../core/keys.js';

/** The quotas, by the name a 429 reports. */
export type QuotaName = 'uploads_per_day' | 'upload_bytes_per_day' | 'questions_per_minute' | 'questions_per_image';

export type QuotaVerdict = { ok: true } | { ok: false; quota: QuotaName; retryAfterSeconds: number };

function isConditionFailure(error: unknown): boolean {
  return (error as { name?: string })?.name === 'ConditionalCheckFailedException';
}

/**
 * Per-owner quotas counted in DynamoDB, so every API instance shares one budget: one item per owner and
 * window (a UTC day, a minute), incremented by a conditional update that fails once the limit is reached.
 * The items expire (TTL) a day after their window.
 */
export class QuotaStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Counts one upload of `bytes` against the owner's day; refused when either daily limit would be passed. */
  async takeUpload(owner: string, bytes: number, limits: { uploadsPerDay: number; uploadBytesPerDay: number }): Promise<QuotaVerdict> {
    const now = this.now();
    const day = new Date(now).toISOString().slice(0, 10);
    const dayEnd = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), new Date(now).getUTCDate() + 1);
    const retryAfterSeconds = Math.max(1, Math.ceil((dayEnd - now) / 1000));
    if (bytes > limits.uploadBytesPerDay) return { ok: false, quota: 'upload_bytes_per_day', retryAfterSeconds };
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: PK.quota('uploads', owner, day) },
          UpdateExpression: 'ADD #count :one, #bytes :bytes SET #ttl = :ttl',
          ConditionExpression: '(attribute_not_exists(#count) OR #count < :maxCount) AND (attribute_not_exists(#bytes) OR #bytes <= :bytesLeft)',
          ExpressionAttributeNames: { '#count': 'count', '#bytes': 'bytes', '#ttl': 'ttl' },
          ExpressionAttributeValues: {
            ':one': 1,
            ':bytes': bytes,
            ':ttl': Math.floor(dayEnd / 1000) + 86_400,
            ':maxCount': limits.uploadsPerDay,
            ':bytesLeft': limits.uploadBytesPerDay - bytes,
          },
        }),
      );
      return { ok: true };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: PK.quota('uploads', owner, day) }, ConsistentRead: true }));
      const count = out.Item?.count;
      const quota: QuotaName = typeof count === 'number' && count >= limits.uploadsPerDay ? 'uploads_per_day' : 'upload_bytes_per_day';
      return { ok: false, quota, retryAfterSeconds };
    }
  }

  /** Counts one question against the owner's current minute. */
  async takeQuestion(owner: string, perMinute: number): Promise<QuotaVerdict> {
    const now = this.now();
    const minute = Math.floor(now / 60_000);
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: PK.quota('questions', owner, String(minute)) },
          UpdateExpression: 'ADD #count :one SET #ttl = :ttl',
          ConditionExpression: 'attribute_not_exists(#count) OR #count < :max',
          ExpressionAttributeNames: { '#count': 'count', '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':one': 1, ':max': perMinute, ':ttl': (minute + 1) * 60 + 86_400 },
        }),
      );
      return { ok: true };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      return { ok: false, quota: 'questions_per_minute', retryAfterSeconds: Math.max(1, Math.ceil(((minute + 1) * 60_000 - now) / 1000)) };
    }
  }
}

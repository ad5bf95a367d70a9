import { randomBytes } from 'node:crypto';

/**
 * Encodes an object key the way S3 writes it into event notifications: form URL encoding
 * (space -> '+', everything but ASCII letters, digits and `. - _ *` percent-encoded as UTF-8),
 * with '/' left as is. Consumers decode with: '+' -> ' ', then percent-decoding.
 */
export function encodeS3EventKey(key: string): string {
  return key
    .split('/')
    .map((segment) =>
      encodeURIComponent(segment)
        .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
        .replace(/%20/g, '+'),
    )
    .join('/');
}

/** The ObjectCreated event names S3 sends. */
export type ObjectCreatedEventName =
  | 'ObjectCreated:Put'
  | 'ObjectCreated:Post'
  | 'ObjectCreated:Copy'
  | 'ObjectCreated:CompleteMultipartUpload';

/**
 * Sequencers: fixed-width upper-case hex, strictly increasing across this process (so per key too),
 * as S3 documents them ("a greater hex value indicates that the event came later" for one key).
 */
let lastSequence = 0n;
export function nextSequencer(now = Date.now()): string {
  const candidate = BigInt(now) << 20n;
  lastSequence = candidate > lastSequence ? candidate : lastSequence + 1n;
  return lastSequence.toString(16).toUpperCase().padStart(18, '0');
}

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex').toUpperCase();
}

export interface ObjectCreatedInput {
  region: string;
  bucket: string;
  key: string; // the raw key; encoded here
  size: number;
  eTag: string; // without quotes
  eventName: ObjectCreatedEventName;
  sourceIp?: string;
  eventTime?: Date;
  configurationId?: string;
}

type Notification = { Records: Array<Record<string, unknown>> };

/** The S3 event notification message (the SQS body S3 sends, eventVersion 2.1) of one record. */
function notification(
  input: { region: string; bucket: string; eventTime?: Date; sourceIp?: string; configurationId?: string },
  eventName: string,
  object: Record<string, unknown>,
): Notification {
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: input.region,
        eventTime: (input.eventTime ?? new Date()).toISOString(),
        eventName,
        userIdentity: { principalId: `AWS:${hex(10)}` },
        requestParameters: { sourceIPAddress: input.sourceIp ?? '127.0.0.1' },
        responseElements: { 'x-amz-request-id': hex(8), 'x-amz-id-2': randomBytes(48).toString('base64') },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: input.configurationId ?? 'blipline-local-bridge',
          bucket: { name: input.bucket, ownerIdentity: { principalId: hex(7) }, arn: `arn:aws:s3:::${input.bucket}` },
          object: { ...object, sequencer: nextSequencer() },
        },
      },
    ],
  };
}

/** One ObjectCreated notification. */
export function objectCreatedNotification(input: ObjectCreatedInput): Notification {
  return notification(input, input.eventName, { key: encodeS3EventKey(input.key), size: input.size, eTag: input.eTag });
}

/** One ObjectRemoved:Delete notification (an unversioned bucket's DeleteObject: no size, no eTag). */
export function objectRemovedNotification(input: { region: string; bucket: string; key: string; eventTime?: Date }): Notification {
  return notification(input, 'ObjectRemoved:Delete', { key: encodeS3EventKey(input.key) });
}

/** The message S3 sends to a queue when a notification configuration is saved. */
export function testEventNotification(bucket: string, time = new Date()): Record<string, string> {
  return {
    Service: 'Amazon S3',
    Event: 's3:TestEvent',
    Time: time.toISOString(),
    Bucket: bucket,
    RequestId: hex(8),
    HostId: randomBytes(48).toString('base64'),
  };
}

import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { Logger } from 'pino';
import type { LocalS3, ObjectCreated } from './s3.js';
import { objectCreatedNotification, objectRemovedNotification, testEventNotification } from './s3-event.js';

export interface BridgeOptions {
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  s3: LocalS3;
  sqsEndpoint: string;
  queueUrl: string;
  logger: Logger;
}

export interface S3ToSqsBridge {
  /** Resolves once every event seen so far has been sent (or its failure logged). */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Dev-only stand-in for an S3 bucket notification to SQS: every object created or deleted in the emulator,
 * whatever its key, becomes one S3 event notification message (eventVersion 2.1) on the queue.
 * Sends the `s3:TestEvent` message first, as S3 does when the notification is configured.
 * Messages are sent one after another in the order the objects were written.
 */
export async function startS3ToSqsBridge(options: BridgeOptions): Promise<S3ToSqsBridge> {
  const { logger } = options;
  const sqs = new SQSClient({ region: options.region, endpoint: options.sqsEndpoint, credentials: options.credentials });
  const s3 = new S3Client({
    region: options.region,
    endpoint: options.s3.endpoint,
    forcePathStyle: true,
    credentials: options.credentials,
  });
  const send = async (body: unknown): Promise<void> => {
    await sqs.send(new SendMessageCommand({ QueueUrl: options.queueUrl, MessageBody: JSON.stringify(body) }));
  };

  await send(testEventNotification(options.s3.bucket));

  let stopped = false;
  let chain: Promise<void> = Promise.resolve();
  const forward = async (event: ObjectCreated): Promise<void> => {
    let eTag = event.eTag;
    if (eTag === undefined) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: event.bucket, Key: event.key }));
      eTag = (head.ETag ?? '').replace(/"/g, '');
    }
    await send(
      objectCreatedNotification({
        region: options.region,
        bucket: event.bucket,
        key: event.key,
        size: event.size,
        eTag,
        eventName: event.eventName,
        eventTime: event.eventTime,
      }),
    );
    logger.debug({ key: event.key, eventName: event.eventName }, 'forwarded S3 event to SQS');
  };
  options.s3.onObjectCreated((event) => {
    if (stopped) {
      logger.warn({ key: event.key }, 'S3 event after the bridge stopped; not forwarded');
      return;
    }
    chain = chain.then(() =>
      forward(event).catch((error: unknown) => {
        logger.error({ err: error, key: event.key }, 'could not forward an S3 event to SQS; the object will not be processed');
      }),
    );
  });

  options.s3.onObjectRemoved((event) => {
    if (stopped) return;
    chain = chain.then(() =>
      send(objectRemovedNotification({ region: options.region, bucket: event.bucket, key: event.key, eventTime: event.eventTime })).catch((error: unknown) => {
        logger.error({ err: error, key: event.key }, 'could not forward an S3 removal to SQS; its records stay');
      }),
    );
  });

  return {
    drain: () => chain,
    async stop() {
      if (stopped) return chain;
      stopped = true;
      await chain;
      sqs.destroy();
      s3.destroy();
    },
  };
}

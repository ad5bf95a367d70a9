import { randomUUID } from 'node:crypto';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Config } from '../core/config.js';
import { BliplineError } from '../core/errors.js';
import { EVENT_SOURCE, type EventEnvelope, type ResultEvent } from '../core/result-events.js';
import { createEventBridgeClient, createSqsClient } from './clients.js';
import { Queue } from './sqs.js';

/** The account id the local emulators use in queue URLs and ARNs. */
export const LOCAL_ACCOUNT = '000000000000';

/** Where a result should also be delivered besides the bus (the image's webhook, when it has one). */
export interface PublishTarget {
  webhook?: { url: string };
}

/**
 * Publishes result events. Called after the result is written and before its message is deleted: a rejection
 * leaves the message for redelivery, which publishes the same event (same `detail.eventId`) again.
 */
export interface ResultPublisher {
  publish(event: ResultEvent, target?: PublishTarget): Promise<void>;
}

/** A result event could not be published; the job is retried like any other infrastructure failure. */
export class PublishError extends BliplineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('publish_failed', message, options);
  }
}

/** The S3 object ARN an event is about (EventBridge `resources`). */
function resourcesOf(event: ResultEvent): string[] {
  return [`arn:aws:s3:::${event.detail.object.bucket}/${event.detail.object.key}`];
}

/** The envelope an EventBridge rule delivers to its target, for one event. */
export function eventEnvelope(event: ResultEvent, where: { account: string; region: string }, now: Date = new Date()): EventEnvelope {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': event.detailType,
    source: EVENT_SOURCE,
    account: where.account,
    time: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: where.region,
    resources: resourcesOf(event),
    detail: event.detail,
  };
}

/**
 * EventBridge PutEvents on one bus (the default bus when `busName` is undefined). An entry EventBridge reports as
 * failed (`FailedEntryCount`) is put again up to `attempts` times (throttling and internal errors are transient);
 * after that the publish rejects.
 */
export class EventBridgePublisher implements ResultPublisher {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string | undefined,
    private readonly options: { attempts?: number; backoffMs?: number } = {},
  ) {}

  async publish(event: ResultEvent): Promise<void> {
    const entry = {
      Source: EVENT_SOURCE,
      DetailType: event.detailType,
      Detail: JSON.stringify(event.detail),
      Resources: resourcesOf(event),
      ...(this.busName ? { EventBusName: this.busName } : {}),
    };
    const attempts = this.options.attempts ?? 3;
    let reason = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const out = await this.client.send(new PutEventsCommand({ Entries: [entry] }));
      if (!out.FailedEntryCount) return;
      const failed = out.Entries?.[0];
      reason = `${failed?.ErrorCode ?? 'unknown'}: ${failed?.ErrorMessage ?? 'no message'}`;
      if (attempt < attempts) await new Promise((r) => setTimeout(r, (this.options.backoffMs ?? 100) * 2 ** (attempt - 1)));
    }
    throw new PublishError(`EventBridge refused the ${event.detailType} event ${event.detail.eventId} ${attempts} times (${reason})`);
  }
}

/**
 * The local stand-in of a bus with one rule targeting an SQS queue: sends the envelope EventBridge would deliver
 * to the queue (`blipline dev`'s events queue).
 */
export class QueueEnvelopePublisher implements ResultPublisher {
  private readonly queue: Queue;

  constructor(client: SQSClient, queueUrl: string, private readonly where: { account: string; region: string }) {
    this.queue = new Queue(client, queueUrl);
  }

  async publish(event: ResultEvent): Promise<void> {
    try {
      await this.queue.send(eventEnvelope(event, this.where));
    } catch (error) {
      throw new PublishError(`the ${event.detailType} event ${event.detail.eventId} could not be sent to ${this.queue.url}`, { cause: error });
    }
  }
}

/** Publishes nothing (events turned off). */
export const NO_PUBLISHER: ResultPublisher = { publish: async () => undefined };

/**
 * The configured channel: the local stack's events queue when `BLIPLINE_EVENTS_QUEUE_URL` is set, else EventBridge
 * on `BLIPLINE_EVENT_BUS` (the account's default bus when unset).
 */
export function createResultPublisher(config: Pick<Config, 'region' | 's3Endpoint' | 'sqsEndpoint' | 'dynamodbEndpoint' | 'events'>): ResultPublisher {
  if (config.events.queueUrl) return new QueueEnvelopePublisher(createSqsClient(config), config.events.queueUrl, { account: LOCAL_ACCOUNT, region: config.region });
  return new EventBridgePublisher(createEventBridgeClient(config), config.events.busName);
}


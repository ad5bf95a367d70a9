import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { buildApp } from 'fauxqs';
import { LocalStackError } from './errors.js';
import { LOCALHOST } from './net.js';

export interface LocalSqs {
  endpoint: string;
  /** The captions queue (S3 events) and its DLQ. */
  queueUrl: string;
  dlqUrl: string;
  /** The questions queue (VQA jobs) and its DLQ. */
  questionQueueUrl: string;
  questionDlqUrl: string;
  /** Result events (BLIPLINE_EVENTS_QUEUE_URL), as an EventBridge rule with an SQS target delivers them. */
  eventsQueueUrl: string;
  /** Webhook deliveries and their DLQ. */
  webhookQueueUrl: string;
  webhookDlqUrl: string;
  /** ReceiveMessage calls the emulator is handling now (a long poll waiting for a message counts until it answers). */
  receivesInFlight(): number;
  stop(): Promise<void>;
}

export interface SqsOptions extends QueuePairOptions {
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  questionQueueName: string;
  questionDlqName: string;
  eventsQueueName: string;
  webhookQueueName: string;
  webhookDlqName: string;
  /** Delivery attempts of a webhook before its job moves to the DLQ. */
  webhookAttempts: number;
}

/**
 * fauxqs names queues `http://sqs.<region>.localhost:<port>/<account>/<name>`, a host that does not
 * resolve here; it finds queues by the path alone, so hand out the same path on the real endpoint.
 */
function resolvableQueueUrl(queueUrl: string, endpoint: string): string {
  return new URL(new URL(queueUrl).pathname, endpoint).toString();
}

/**
 * Counts ReceiveMessage requests from the moment their handler is about to run until they are answered or
 * abandoned. fauxqs's handler looks for messages and, finding none, registers its long-poll waiter without any
 * I/O in between, so once a count is observed from another event-loop turn, that receive is waiting: tests
 * send a message then and know the long poll delivered it.
 */
function countReceives(app: ReturnType<typeof buildApp>): { inFlight: () => number } {
  const open = new WeakSet<object>();
  let count = 0;
  const done = async (request: object) => {
    if (open.delete(request)) count -= 1;
  };
  app.addHook('preHandler', async (request) => {
    if (request.headers['x-amz-target'] === 'AmazonSQS.ReceiveMessage') {
      open.add(request);
      count += 1;
    }
  });
  app.addHook('onResponse', done);
  app.addHook('onRequestAbort', done);
  return { inFlight: () => count };
}

/**
 * fauxqs in this process, bound to 127.0.0.1 on a free port (its `startFauxqs` helper binds every
 * interface, so the Fastify app is listened on here). Queues are created through the SQS API.
 */
export async function startSqs(options: SqsOptions): Promise<LocalSqs> {
  const app = buildApp({ logger: false, defaultRegion: options.region });
  const receives = countReceives(app);
  let endpoint: string;
  try {
    await app.listen({ port: 0, host: LOCALHOST });
    const address = app.server.address();
    if (!address || typeof address !== 'object') throw new Error('no listening address');
    endpoint = `http://${LOCALHOST}:${address.port}`;
  } catch (cause) {
    await app.close().catch(() => undefined);
    throw new LocalStackError('sqs', 'start_failed', `fauxqs did not start: ${String(cause)}`, { cause });
  }

  const client = new SQSClient({ region: options.region, endpoint, credentials: options.credentials });
  try {
    const captions = await createQueueWithDlq(client, endpoint, options);
    const questions = await createQueueWithDlq(client, endpoint, { ...options, queueName: options.questionQueueName, dlqName: options.questionDlqName });
    const webhooks = await createQueueWithDlq(client, endpoint, { ...options, queueName: options.webhookQueueName, dlqName: options.webhookDlqName, maxReceiveCount: options.webhookAttempts });
    const events = await client.send(new CreateQueueCommand({ QueueName: options.eventsQueueName, Attributes: { MessageRetentionPeriod: String(4 * 24 * 3600) } }));
    if (!events.QueueUrl) throw new Error(`CreateQueue returned no QueueUrl for ${options.eventsQueueName}`);

    let stopped: Promise<void> | undefined;
    return {
      endpoint,
      ...captions,
      questionQueueUrl: questions.queueUrl,
      questionDlqUrl: questions.dlqUrl,
      eventsQueueUrl: resolvableQueueUrl(events.QueueUrl, endpoint),
      webhookQueueUrl: webhooks.queueUrl,
      webhookDlqUrl: webhooks.dlqUrl,
      receivesInFlight: receives.inFlight,
      stop() {
        stopped ??= (async () => {
          client.destroy();
          await app.close();
        })();
        return stopped;
      },
    };
  } catch (cause) {
    client.destroy();
    await app.close().catch(() => undefined);
    throw new LocalStackError('sqs', 'setup_failed', `creating the queues failed: ${String(cause)}`, { cause });
  }
}

export interface QueuePairOptions {
  queueName: string;
  dlqName: string;
  maxReceiveCount: number;
  visibilityTimeoutSeconds: number;
}

/** Creates a queue and its dead-letter queue (redrive after `maxReceiveCount` receives) on fauxqs at `endpoint`. */
export async function createQueueWithDlq(client: SQSClient, endpoint: string, options: QueuePairOptions): Promise<{ queueUrl: string; dlqUrl: string }> {
  const dlq = await client.send(
    new CreateQueueCommand({
      QueueName: options.dlqName,
      Attributes: { MessageRetentionPeriod: String(14 * 24 * 3600) },
    }),
  );
  if (!dlq.QueueUrl) throw new Error(`CreateQueue returned no QueueUrl for ${options.dlqName}`);
  const dlqAttributes = await client.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }));
  const dlqArn = dlqAttributes.Attributes?.QueueArn;
  if (!dlqArn) throw new Error(`GetQueueAttributes returned no QueueArn for ${options.dlqName}`);
  const queue = await client.send(
    new CreateQueueCommand({
      QueueName: options.queueName,
      Attributes: {
        VisibilityTimeout: String(options.visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(4 * 24 * 3600),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: options.maxReceiveCount }),
      },
    }),
  );
  if (!queue.QueueUrl) throw new Error(`CreateQueue returned no QueueUrl for ${options.queueName}`);
  return { queueUrl: resolvableQueueUrl(queue.QueueUrl, endpoint), dlqUrl: resolvableQueueUrl(dlq.QueueUrl, endpoint) };
}

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
  stop(): Promise<void>;
}

export interface SqsOptions {
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  queueName: string;
  dlqName: string;
  questionQueueName: string;
  questionDlqName: string;
  maxReceiveCount: number;
  visibilityTimeoutSeconds: number;
}

/**
 * fauxqs names queues `http://sqs.<region>.localhost:<port>/<account>/<name>`, a host that does not
 * resolve here; it finds queues by the path alone, so hand out the same path on the real endpoint.
 */
function resolvableQueueUrl(queueUrl: string, endpoint: string): string {
  return new URL(new URL(queueUrl).pathname, endpoint).toString();
}

/**
 * fauxqs in this process, bound to 127.0.0.1 on a free port (its `startFauxqs` helper binds every
 * interface, so the Fastify app is listened on here). Queues are created through the SQS API.
 */
export async function startSqs(options: SqsOptions): Promise<LocalSqs> {
  const app = buildApp({ logger: false, defaultRegion: options.region });
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
  /** A queue with its dead-letter queue (redrive after maxReceiveCount receives). */
  const createPair = async (name: string, dlqName: string): Promise<{ queueUrl: string; dlqUrl: string }> => {
    const dlq = await client.send(new CreateQueueCommand({ QueueName: dlqName, Attributes: { MessageRetentionPeriod: String(14 * 24 * 3600) } }));
    if (!dlq.QueueUrl) throw new Error(`CreateQueue returned no QueueUrl for ${dlqName}`);
    const dlqAttributes = await client.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }));
    const dlqArn = dlqAttributes.Attributes?.QueueArn;
    if (!dlqArn) throw new Error(`GetQueueAttributes returned no QueueArn for ${dlqName}`);
    const queue = await client.send(
      new CreateQueueCommand({
        QueueName: name,
        Attributes: {
          VisibilityTimeout: String(options.visibilityTimeoutSeconds),
          MessageRetentionPeriod: String(4 * 24 * 3600),
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: options.maxReceiveCount }),
        },
      }),
    );
    if (!queue.QueueUrl) throw new Error(`CreateQueue returned no QueueUrl for ${name}`);
    return { queueUrl: resolvableQueueUrl(queue.QueueUrl, endpoint), dlqUrl: resolvableQueueUrl(dlq.QueueUrl, endpoint) };
  };
  try {
    const captions = await createPair(options.queueName, options.dlqName);
    const questions = await createPair(options.questionQueueName, options.questionDlqName);

    let stopped: Promise<void> | undefined;
    return {
      endpoint,
      ...captions,
      questionQueueUrl: questions.queueUrl,
      questionDlqUrl: questions.dlqUrl,
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

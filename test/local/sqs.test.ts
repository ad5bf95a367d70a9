import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../pipeline/support.js';
import { useLocalClients, useLocalStack } from '../support/local-stack.js';

// Default options on purpose: maxReceiveCount 5, visibility timeout 60 s.
const stack = useLocalStack({ redis: 'none' });

const clients = useLocalClients(stack);
const sqs = (): SQSClient => clients().sqs;

const queueUrl = (): string => stack().sqs.queueUrl;

async function attributes(url: string): Promise<Record<string, string>> {
  const { Attributes = {} } = await sqs().send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }));
  return Attributes;
}

async function receiveOne(url: string, options: { visibilityTimeout?: number; wait?: number } = {}): Promise<Message | undefined> {
  const { Messages = [] } = await sqs().send(
    new ReceiveMessageCommand({
      QueueUrl: url,
      MaxNumberOfMessages: 1,
      WaitTimeSeconds: options.wait ?? 0,
      MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      ...(options.visibilityTimeout === undefined ? {} : { VisibilityTimeout: options.visibilityTimeout }),
    }),
  );
  return Messages[0];
}

async function remove(url: string, message: Message): Promise<void> {
  await sqs().send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: message.ReceiptHandle }));
}

beforeAll(async () => {
  // The bridge's s3:TestEvent is the only message at start.
  const message = await receiveOne(queueUrl());
  expect(JSON.parse(message?.Body ?? '{}')).toMatchObject({ Event: 's3:TestEvent' });
  await remove(queueUrl(), message!);
});

describe('local SQS (fauxqs)', () => {
  it('creates the main queue with visibility timeout 60 s and a redrive policy to the DLQ (5 receives)', async () => {
    const main = await attributes(queueUrl());
    const dlq = await attributes(stack().sqs.dlqUrl);
    expect(main.VisibilityTimeout).toBe('60');
    expect(JSON.parse(main.RedrivePolicy ?? '{}')).toEqual({ deadLetterTargetArn: dlq.QueueArn, maxReceiveCount: 5 });
    expect(dlq.QueueArn).toMatch(/:blipline-jobs-dlq$/);
  });

  it('hands out queue URLs that resolve to the emulator', () => {
    expect(new URL(queueUrl()).origin).toBe(stack().sqs.endpoint);
    expect(new URL(stack().sqs.dlqUrl).origin).toBe(stack().sqs.endpoint);
  });

  it('moves a message to the DLQ after maxReceiveCount receives without delete', async () => {
    await sqs().send(new SendMessageCommand({ QueueUrl: queueUrl(), MessageBody: 'poison' }));
    for (let receive = 1; receive <= 5; receive++) {
      const message = await receiveOne(queueUrl(), { visibilityTimeout: 0 });
      expect(message?.Body).toBe('poison');
      expect(message?.Attributes?.ApproximateReceiveCount).toBe(String(receive));
    }
    expect(await receiveOne(queueUrl(), { visibilityTimeout: 0 })).toBeUndefined();
    const dead = await receiveOne(stack().sqs.dlqUrl, { wait: 1 });
    expect(dead?.Body).toBe('poison');
    await remove(stack().sqs.dlqUrl, dead!);
  });

  it('hides a received message for the visibility timeout until it is released or deleted', async () => {
    await sqs().send(new SendMessageCommand({ QueueUrl: queueUrl(), MessageBody: 'job' }));
    const first = await receiveOne(queueUrl());
    expect(first?.Body).toBe('job');
    expect(await receiveOne(queueUrl())).toBeUndefined();
    await sqs().send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl(), ReceiptHandle: first!.ReceiptHandle, VisibilityTimeout: 0 }));
    const again = await receiveOne(queueUrl());
    expect(again?.Body).toBe('job');
    await remove(queueUrl(), again!);
    expect(await receiveOne(queueUrl())).toBeUndefined();
  });

  it('long-polls: a waiting receive gets a message sent after it started', async () => {
    expect(await receiveOne(queueUrl())).toBeUndefined();
    expect(stack().sqs.receivesInFlight()).toBe(0);
    const waiting = receiveOne(queueUrl(), { wait: 20 });
    // the receive has found the queue empty and is waiting: only a long poll can deliver what is sent now
    await waitFor(async () => stack().sqs.receivesInFlight(), (n) => n === 1, 10_000, 'the receive waiting in the emulator');
    await sqs().send(new SendMessageCommand({ QueueUrl: queueUrl(), MessageBody: 'late' }));
    const message = await waiting;
    expect(message?.Body).toBe('late');
    await waitFor(async () => stack().sqs.receivesInFlight(), (n) => n === 0, 10_000, 'the receive answered');
    await remove(queueUrl(), message!);
  });

  it('counts visible and in-flight messages', async () => {
    for (const body of ['a', 'b', 'c']) {
      await sqs().send(new SendMessageCommand({ QueueUrl: queueUrl(), MessageBody: body }));
    }
    expect((await attributes(queueUrl())).ApproximateNumberOfMessages).toBe('3');
    const inFlight = await receiveOne(queueUrl());
    const counts = await attributes(queueUrl());
    expect(counts.ApproximateNumberOfMessages).toBe('2');
    expect(counts.ApproximateNumberOfMessagesNotVisible).toBe('1');
    await remove(queueUrl(), inFlight!);
    for (let i = 0; i < 2; i++) await remove(queueUrl(), (await receiveOne(queueUrl()))!);
    const empty = await attributes(queueUrl());
    expect(empty.ApproximateNumberOfMessages).toBe('0');
    expect(empty.ApproximateNumberOfMessagesNotVisible).toBe('0');
  });
});

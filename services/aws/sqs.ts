import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';

export interface ReceivedMessage {
  messageId: string;
  receiptHandle: string;
  body: string;
  /** ApproximateReceiveCount: 1 on the first delivery. */
  receiveCount: number;
  sentAt: Date | undefined;
  /** When this delivery was received (ms since the epoch): SQS caps its visibility at 12 h from then. */
  receivedAt: number;
}

function toReceived(m: Message): ReceivedMessage | undefined {
  if (!m.MessageId || !m.ReceiptHandle || m.Body === undefined) return undefined;
  const count = Number(m.Attributes?.ApproximateReceiveCount ?? '1');
  const sent = m.Attributes?.SentTimestamp;
  return {
    messageId: m.MessageId,
    receiptHandle: m.ReceiptHandle,
    body: m.Body,
    receiveCount: Number.isFinite(count) ? count : 1,
    sentAt: sent ? new Date(Number(sent)) : undefined,
    receivedAt: Date.now(),
  };
}

/** Thin SQS adapter for one queue. */
export class Queue {
  constructor(
    private readonly client: SQSClient,
    readonly url: string,
  ) {}

  /** Long-polls for up to `max` messages (SQS caps at 10, wait at 20 s). */
  async receive(options: { max?: number; waitSeconds?: number; visibilityTimeout?: number; signal?: AbortSignal } = {}): Promise<ReceivedMessage[]> {
    const out = await this.client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.url,
        MaxNumberOfMessages: Math.min(options.max ?? 10, 10),
        WaitTimeSeconds: options.waitSeconds ?? 20,
        VisibilityTimeout: options.visibilityTimeout,
        MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
      }),
      { abortSignal: options.signal },
    );
    return (out.Messages ?? []).map(toReceived).filter((m): m is ReceivedMessage => m !== undefined);
  }

  async delete(receiptHandle: string): Promise<void> {
    await this.client.send(new DeleteMessageCommand({ QueueUrl: this.url, ReceiptHandle: receiptHandle }));
  }

  /** Sets the visibility timeout of up to 10 in-flight messages at once; returns the ids that failed. */
  async changeVisibility(messages: { messageId: string; receiptHandle: string }[], seconds: number): Promise<string[]> {
    const failed: string[] = [];
    for (let i = 0; i < messages.length; i += 10) {
      const slice = messages.slice(i, i + 10);
      const out = await this.client.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.url,
          Entries: slice.map((m, j) => ({ Id: String(j), ReceiptHandle: m.receiptHandle, VisibilityTimeout: seconds })),
        }),
      );
      for (const f of out.Failed ?? []) {
        const m = slice[Number(f.Id)];
        if (m) failed.push(m.messageId);
      }
    }
    return failed;
  }

  /**
   * Sends `body` as JSON with every non-ASCII character written as a `\u` escape: the same JSON value, and a body any
   * SQS implementation takes (the local emulator refuses characters above U+FFFF, which object keys may hold).
   */
  async send(body: unknown): Promise<string | undefined> {
    const json = JSON.stringify(body).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    const out = await this.client.send(new SendMessageCommand({ QueueUrl: this.url, MessageBody: json }));
    return out.MessageId;
  }
}

import type { Logger } from 'pino';
import type { ReceivedMessage } from '../aws/sqs.js';
import type { ObjectCreated } from '../core/events.js';

/** One object of one message, carried through the stages of a batch. */
export interface Item {
  message: ReceivedMessage;
  event: ObjectCreated;
  imageId: string;
  log: Logger;
  acceptedAt: number;
  /** Aborts the item's S3 calls at the job deadline (maxJobMs). */
  signal: AbortSignal;
  prompt?: string;
  bytes?: Uint8Array;
  sha256?: string;
  contentType?: string;
  /** Final: nothing more to do for this item (written, or skipped as stale/duplicate). */
  settled: boolean;
  /** An unexpected error: the message stays for redelivery. */
  error?: unknown;
}

/** Runs a stage of one item; an unexpected error marks the item for redelivery. */
export async function guard(item: Item, stage: () => Promise<void>): Promise<void> {
  try {
    await stage();
  } catch (error) {
    item.error = error;
  }
}

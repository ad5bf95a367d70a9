import type { Logger } from 'pino';
import { ObjectMissingError, ObjectTooLargeError } from '../aws/errors.js';
import type { RecordStore } from '../aws/record-store.js';
import type { ResultPublisher } from '../aws/result-publisher.js';
import type { ObjectStore } from '../aws/s3.js';
import type { ReceivedMessage } from '../aws/sqs.js';
import type { QuestionJob } from '../core/events.js';
import { METRICS, type Metrics } from '../core/metrics.js';
import type { FailureReason, ImageRecord, QuestionRecord } from '../core/records.js';
import { questionResultEvent } from '../core/result-events.js';
import type { QuestionAnswerer } from './captioner.js';
import { errorMessage } from './errors.js';
import type { HeldMessages } from './held-messages.js';
import type { ResolvedWorkerOptions } from './options.js';

/**
 * Answers question (VQA) jobs one at a time: reads the image's object and asks the model, then writes the answer or
 * the failure on the question record, publishes its result event, and deletes the message. Unexpected errors leave the message for redelivery
 * with the retry backoff (and fail the question `processing_error` on its last receive).
 */
export class QuestionJobs {
  constructor(
    private readonly records: RecordStore,
    private readonly objects: ObjectStore,
    /** Absent: questions fail with `vqa_unavailable`. */
    private readonly answerer: QuestionAnswerer | undefined,
    private readonly held: HeldMessages,
    private readonly publisher: ResultPublisher,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly options: Pick<ResolvedWorkerOptions, 'maxObjectBytes' | 'maxJobMs' | 'maxReceiveCount'>,
  ) {}

  /**
   * Publishes a final question's event (again on a redelivery: same event id). Without its image record (deleted)
   * there is no object to name and nobody left to tell: nothing is published.
   */
  private async publish(question: QuestionRecord | undefined, image?: ImageRecord): Promise<void> {
    if (!question) return;
    const img = image ?? (await this.records.getImage(question.imageId));
    if (!img) return;
    const event = questionResultEvent(question, { bucket: this.objects.bucket, key: img.objectKey });
    if (event) await this.publisher.publish(event, img.webhook ? { webhook: img.webhook } : {});
  }

  async process(message: ReceivedMessage, job: QuestionJob): Promise<void> {
    const { records, objects } = this;
    const log = this.logger.child({ jobId: message.messageId, imageId: job.imageId, questionId: job.questionId });
    let image: ImageRecord | undefined;
    const failQuestion = async (code: FailureReason, text: string) => {
      this.metrics.count(METRICS.failures, 1, { Reason: code });
      const failed = await records.updateQuestion(job.imageId, job.questionId, ['queued', 'processing'], { status: 'failed', error: { code, message: text } });
      log.info({ reason: code }, 'question failed');
      await this.publish(failed, image);
    };
    try {
      const question = await records.getQuestion(job.imageId, job.questionId);
      if (!question || question.status === 'done' || question.status === 'failed') {
        log.info({ found: question !== undefined }, 'question job without an open question: its result event is published again, the message deleted');
        await this.publish(question);
        return await this.held.delete(message);
      }
      const answerer = this.answerer;
      if (!answerer) {
        await failQuestion('vqa_unavailable', 'no VQA model is configured (BLIPLINE_VQA_MODEL)');
        return await this.held.delete(message);
      }
      image = await records.getImage(job.imageId);
      if (!image || image.status === 'failed' || image.status === 'awaiting_upload') {
        await failQuestion('image_failed', image ? `the image is ${image.status}${image.error ? ` (${image.error.code})` : ''}` : 'the image record no longer exists');
        return await this.held.delete(message);
      }
      await records.updateQuestion(job.imageId, job.questionId, ['queued', 'processing'], { status: 'processing' });
      let bytes: Uint8Array;
      try {
        bytes = await objects.getBounded(image.objectKey, this.options.maxObjectBytes, AbortSignal.timeout(this.options.maxJobMs));
      } catch (error) {
        if (error instanceof ObjectMissingError) {
          await failQuestion('object_missing', 'the image object no longer exists');
          return await this.held.delete(message);
        }
        if (error instanceof ObjectTooLargeError) {
          await failQuestion('too_large', error.message);
          return await this.held.delete(message);
        }
        throw error;
      }
      const started = performance.now();
      const outcome = await answerer.ask(bytes, question.question);
      const inferenceMs = Math.round(performance.now() - started);
      if (!outcome.ok) {
        await failQuestion(outcome.reason, outcome.message);
      } else {
        const answered = await records.updateQuestion(job.imageId, job.questionId, ['queued', 'processing'], {
          status: 'done',
          answer: outcome.generation.text,
          tokenIds: outcome.generation.tokenIds,
          model: answerer.name,
        });
        this.metrics.emit({ [METRICS.questionsAnswered]: 1, [METRICS.inferenceMs]: inferenceMs });
        log.info({ inferenceMs }, 'question answered');
        await this.publish(answered, image);
      }
      await this.held.delete(message);
    } catch (error) {
      const last = message.receiveCount >= this.options.maxReceiveCount;
      log.error({ err: error, lastReceive: last }, 'question job failed');
      if (last) await failQuestion('processing_error', `processing failed ${message.receiveCount} times; last error: ${errorMessage(error)}`).catch(() => undefined);
      await this.held.abandon(message);
    }
  }
}

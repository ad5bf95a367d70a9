import { beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../services/aws/clients.js';
import { RecordStore } from '../../services/aws/record-store.js';
import { newId } from '../../services/core/ids.js';
import { normalizeSequencer } from '../../services/core/keys.js';
import type { Config } from '../../services/core/config.js';
import { useLocalStack } from '../support/local-stack.js';
import { configFor } from '../pipeline/support.js';

const stack = useLocalStack({ redis: 'none' });
let config: Config;
let store: RecordStore;
const seq = (n: number) => normalizeSequencer(n.toString(16).padStart(18, '0'));

beforeAll(() => {
  config = configFor(stack());
  store = new RecordStore(createDynamoClient(config), config.table, { ttlDays: 1 });
});

describe('RecordStore', () => {
  it('walks an upload through awaiting_upload -> queued -> processing -> done, idempotently', async () => {
    const imageId = newId();
    const objectKey = `uploads/${imageId}`;
    await store.createUpload({ imageId, owner: 'alice', objectKey, model: 'm', contentType: 'image/png', contentLength: 10, prompt: 'a picture of' });
    await expect(store.createUpload({ imageId, owner: 'alice', objectKey, model: 'm', contentType: 'image/png', contentLength: 10 })).rejects.toThrow();
    expect(await store.acceptObject({ imageId, objectKey, sequencer: seq(1), model: 'm', upload: objectKey.startsWith('uploads/') })).toBe('accepted');
    // A redelivery of the same event while the job is open is accepted again (the job died mid-way).
    expect(await store.acceptObject({ imageId, objectKey, sequencer: seq(1), model: 'm', upload: objectKey.startsWith('uploads/') })).toBe('accepted');
    expect(await store.markProcessing(imageId, seq(1))).toBe(true);
    const done = await store.finishImage(imageId, seq(1), { status: 'done', model: 'm', caption: 'a cat', tokenIds: [30522, 1037, 102], contentSha256: 'ab' });
    expect(done).toMatchObject({ status: 'done', caption: 'a cat', prompt: 'a picture of', contentType: 'image/png' });
    // Finishing twice returns the stored result; a redelivery after that is a duplicate.
    expect(await store.finishImage(imageId, seq(1), { status: 'failed', model: 'm', error: { code: 'corrupt', message: 'x' } })).toMatchObject({ status: 'done' });
    expect(await store.acceptObject({ imageId, objectKey, sequencer: seq(1), model: 'm', upload: objectKey.startsWith('uploads/') })).toBe('duplicate');
    // One-shot: a second PUT of the upload's URL (a newer event) is not accepted and never replaces the caption.
    expect(await store.acceptObject({ imageId, objectKey, sequencer: seq(2), model: 'm', upload: true })).toBe('duplicate');
    expect((await store.getImage(imageId))?.caption).toBe('a cat');
    // An uploads/ key without an API upload record is not the API's: not captioned.
    const stray = newId();
    expect(await store.acceptObject({ imageId: stray, objectKey: `uploads/${stray}`, sequencer: seq(1), model: 'm', upload: true })).toBe('unknown_upload');
  });

  it('lets the newer sequencer of one key win, in any arrival order', async () => {
    const objectKey = `drop/${newId()}.jpg`;
    const imageId = newId();
    expect(await store.acceptObject({ imageId, objectKey, sequencer: seq(10), model: 'm', upload: objectKey.startsWith('uploads/') })).toBe('accepted');
    expect(await store.acceptObject({ imageId, objectKey, sequencer: seq(20), model: 'm', upload: objectKey.startsWith('uploads/') })).toBe('accepted');
    // The older job cannot write its result any more.
    expect(await store.markProcessing(imageId, seq(10))).toBe(false);
    expect(await store.finishImage(imageId, seq(10), { status: 'done', model: 'm', caption: 'old', tokenIds: [1] })).toBe('superseded');
    expect(await store.finishImage(imageId, seq(20), { status: 'done', model: 'm', caption: 'new', tokenIds: [2] })).toMatchObject({ caption: 'new' });
    // An older event arriving late is stale.
    expect(await store.acceptObject({ imageId, objectKey, sequencer: seq(15), model: 'm', upload: objectKey.startsWith('uploads/') })).toBe('stale');
    expect((await store.getImage(imageId))?.caption).toBe('new');
    // A later overwrite resets the record for the new content.
    expect(await store.acceptObject({ imageId, objectKey, sequencer: seq(30), model: 'm', upload: objectKey.startsWith('uploads/') })).toBe('accepted');
    const reset = await store.getImage(imageId);
    expect(reset).toMatchObject({ status: 'queued' });
    expect(reset?.caption).toBeUndefined();
  });

  it('gives a caption claim to exactly one of many concurrent workers', async () => {
    const sha = newId();
    const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => store.claimCaption('m', sha, undefined, `w${i}`, 60_000)));
    expect(outcomes.filter((o) => o.kind === 'claimed')).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind === 'busy')).toHaveLength(7);
    const winner = `w${outcomes.findIndex((o) => o.kind === 'claimed')}`;
    expect(await store.renewCaptionClaim('m', sha, undefined, 'someone-else', 60_000)).toBe(false);
    expect(await store.renewCaptionClaim('m', sha, undefined, winner, 60_000)).toBe(true);
    await store.completeCaption('m', sha, undefined, { text: 'a dog', tokenIds: [30522, 2, 102], inferenceMs: 5 });
    const late = await store.claimCaption('m', sha, undefined, 'w9', 60_000);
    expect(late).toMatchObject({ kind: 'done', caption: { text: 'a dog' } });
    // The prompt is part of the key: the same content with a prompt is a different caption.
    expect(await store.claimCaption('m', sha, 'a picture of', 'w9', 60_000)).toEqual({ kind: 'claimed' });
  });

  it('lets another worker take over a lapsed or released claim', async () => {
    const sha = newId();
    // two workers' clocks: b's reads 2 ms after a's 1 ms lease began, so the lease has lapsed for b
    const started = Date.now();
    const at = (ms: number) => new RecordStore(createDynamoClient(config), config.table, { ttlDays: 1, now: () => ms });
    expect(await at(started).claimCaption('m', sha, undefined, 'a', 1)).toEqual({ kind: 'claimed' });
    expect(await at(started + 1).claimCaption('m', sha, undefined, 'b', 60_000)).toEqual({ kind: 'busy', leaseUntil: started + 1 });
    expect(await at(started + 2).claimCaption('m', sha, undefined, 'b', 60_000)).toEqual({ kind: 'claimed' });
    await store.releaseCaptionClaim('m', sha, undefined, 'b');
    expect(await store.claimCaption('m', sha, undefined, 'c', 60_000)).toEqual({ kind: 'claimed' });
  });

  it('treats items past their ttl as absent', async () => {
    const later = new RecordStore(createDynamoClient(config), config.table, { ttlDays: 1, now: () => Date.now() + 2 * 86_400_000 });
    const sha = newId();
    await store.claimCaption('m', sha, undefined, 'a', 60_000);
    await store.completeCaption('m', sha, undefined, { text: 'old', tokenIds: [1], inferenceMs: 1 });
    expect(await later.getCaption('m', sha)).toBeUndefined();
    expect(await later.claimCaption('m', sha, undefined, 'b', 60_000)).toEqual({ kind: 'claimed' });
    const imageId = newId();
    await store.createUpload({ imageId, owner: 'alice', objectKey: `uploads/${imageId}`, model: 'm', contentType: 'image/png', contentLength: 1 });
    expect(await later.getImage(imageId)).toBeUndefined();
  });

  it('retries throttled DynamoDB calls with the SDK retry strategy', async () => {
    const doc = createDynamoClient(config);
    let attempts = 0;
    doc.middlewareStack.add(
      (next) => async (args) => {
        attempts += 1;
        if (attempts <= 2) {
          throw Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), {
            name: 'ProvisionedThroughputExceededException',
            $fault: 'client',
            $metadata: { httpStatusCode: 400 },
          });
        }
        return next(args);
      },
      { step: 'deserialize', name: 'injectThrottling' },
    );
    const throttled = new RecordStore(doc, config.table, { ttlDays: 1 });
    const imageId = newId();
    await store.createUpload({ imageId, owner: 'alice', objectKey: `uploads/${imageId}`, model: 'm', contentType: 'image/png', contentLength: 1 });
    expect((await throttled.getImage(imageId))?.status).toBe('awaiting_upload');
    expect(attempts).toBe(3);
  });

  it('moves questions only forward', async () => {
    const imageId = newId();
    const questionId = newId();
    await store.createQuestion({ imageId, questionId, question: 'what?' });
    expect(await store.updateQuestion(imageId, questionId, ['queued'], { status: 'processing' })).toMatchObject({ status: 'processing' });
    expect(await store.updateQuestion(imageId, questionId, ['queued', 'processing'], { status: 'done', answer: 'yes', tokenIds: [30522, 2748, 102] })).toMatchObject({ status: 'done', answer: 'yes' });
    expect(await store.updateQuestion(imageId, questionId, ['queued', 'processing'], { status: 'failed' })).toBeUndefined();
    expect(await store.updateQuestion(imageId, newId(), ['queued'], { status: 'processing' })).toBeUndefined();
  });
});

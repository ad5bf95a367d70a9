import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../services/api/app.js';
import { createApiDeps } from '../../services/api/deps.js';
import type { RecordStore } from '../../services/aws/record-store.js';
import type { Config } from '../../services/core/config.js';
import { idForObjectKey } from '../../services/core/ids.js';
import { PK } from '../../services/core/keys.js';
import { createLogger } from '../../services/core/logger.js';
import type { ImageRecord } from '../../services/core/records.js';
import { objectCreatedNotification, testEventNotification } from '../../services/local/s3-event.js';
import { configFor } from '../pipeline/support.js';
import { authHeader } from '../support/auth.js';
import { useLocalClients, useLocalStack } from '../support/local-stack.js';
import { spawnWorker, type WorkerLine, type WorkerProcess } from '../support/worker-process.js';
import { animatedGif, poisonCases } from './poison.js';
import { SOAK, drop, finalRecords, isFinal, noiseImage, peekDlq, poll, queueCounts, recordOfKey, recordStore, sha256, total } from './support.js';

/**
 * Scenarios 2, 3, 5, 6, 7 and 8 against one `blipline worker` child process on a local stack with its
 * own redis-server: duplicates, poison inputs, queue semantics, a job longer than the visibility
 * timeout, a Redis outage, and SIGTERM during a job (last: it ends the process).
 */
const VISIBILITY_S = 2;
const MAX_BYTES = 3_000_000;
/** Keys holding the same bytes (scenario 2): 50 in the soak run. */
const DUP_KEYS = SOAK ? 50 : 30;
/** Images in the slow receive (scenario 7), two of them the contested content. */
const SLOW_IMAGES = SOAK ? 10 : 6;

const stack = useLocalStack({ redis: 'own', visibilityTimeoutSeconds: VISIBILITY_S });
const clients = useLocalClients(stack);
const logger = createLogger({ level: 'silent' });
let worker: WorkerProcess;
let records: RecordStore;
let config: Config;
let api: ReturnType<typeof createApiDeps>;
let app: ReturnType<typeof createApp>;
/** Dropped objects are the operator's: their records are read with an operator token. */
let operator: { authorization: string };

beforeAll(async () => {
  const env: Record<string, string> = { ...stack().env(), BLIPLINE_VISIBILITY_TIMEOUT_SECONDS: String(VISIBILITY_S), BLIPLINE_RECEIVE_WAIT_SECONDS: '1', BLIPLINE_MAX_UPLOAD_BYTES: String(MAX_BYTES) };
  worker = spawnWorker({ env });
  records = recordStore(stack());
  config = configFor(stack(), { BLIPLINE_MAX_UPLOAD_BYTES: String(MAX_BYTES), BLIPLINE_REDIS_PREFIX: env.BLIPLINE_REDIS_PREFIX ?? '' });
  api = createApiDeps(config, logger);
  app = createApp(api);
  operator = await authHeader(stack(), 'operator');
  await worker.ready;
}, 180_000);

afterAll(async () => {
  await worker?.kill();
  await api?.close();
});

const s3 = () => clients().s3;
const sqs = () => clients().sqs;
const drained = () => poll(() => queueCounts(sqs(), stack().sqs.queueUrl), (c) => total(c) === 0, 60_000, 'queue drained');
const waitFinal = (keys: string[], timeoutMs = 120_000) =>
  poll(() => finalRecords(records, keys), (m) => [...m.values()].every(isFinal), timeoutMs, `${keys.length} records final`, 300) as Promise<Map<string, ImageRecord>>;
/** Worker log lines about one object key (they carry `key` and `receiveCount` bindings). */
const linesOfKey = (key: string): WorkerLine[] => worker.lines.filter((l) => l.key === key);
const sendBody = (body: unknown) => sqs().send(new SendMessageCommand({ QueueUrl: stack().sqs.queueUrl, MessageBody: JSON.stringify(body) }));
const objectEvent = (key: string, size: number, sequencer?: string) => {
  const event = objectCreatedNotification({ region: stack().region, bucket: stack().s3.bucket, key, size, eTag: 'd41d8cd98f00b204e9800998ecf8427e', eventName: 'ObjectCreated:Put' });
  const object = (event.Records[0] as { s3: { object: { sequencer: string } } }).s3.object;
  if (sequencer) object.sequencer = sequencer;
  return event;
};

describe('duplicates (scenario 2)', () => {
  it(`the same bytes under ${DUP_KEYS} keys and one S3 event delivered 3 times: one inference, every record done with the same caption`, { timeout: 240_000 }, async () => {
    const bytes = await noiseImage(50_001, { width: 96, height: 64 });
    const before = worker.inferences();
    // One object, then the same (newer) event for it three times at once.
    await drop(s3(), stack(), 'dups/event.png', bytes);
    await stack().drainS3Events();
    const replay = objectEvent('dups/event.png', bytes.length);
    await Promise.all([sendBody(replay), sendBody(replay), sendBody(replay)]);
    const keys = Array.from({ length: DUP_KEYS }, (_, i) => `dups/copy ${i}.png`);
    await Promise.all(keys.map((k) => drop(s3(), stack(), k, bytes)));
    const all = await waitFinal(['dups/event.png', ...keys]);
    await drained();
    expect(worker.inferences() - before).toBe(1);
    const done = [...all.values()];
    expect(done.map((r) => r.status)).toEqual(Array(DUP_KEYS + 1).fill('done'));
    expect(new Set(done.map((r) => JSON.stringify(r.tokenIds))).size).toBe(1);
    expect(new Set(done.map((r) => r.contentSha256))).toEqual(new Set([sha256(bytes)]));
    // The replayed event owns the record (its sequencer is the newest); the copies were accepted once or skipped.
    const eventRecord = all.get('dups/event.png')!;
    expect(eventRecord.sequencer?.startsWith((replay.Records[0] as { s3: { object: { sequencer: string } } }).s3.object.sequencer)).toBe(true);
    expect(await peekDlq(sqs(), stack())).toEqual([]);
    console.info(`[faults] duplicates: ${DUP_KEYS + 1} keys + 3 copies of one event -> ${worker.inferences() - before} inference, ${done.length} done, ${done.filter((r) => r.cacheHit).length} cache hits`);
  });
});

describe('poison inputs (scenario 5)', () => {
  it('dropped into the bucket: each ends with its documented outcome after one receive, nothing in the DLQ, and the next image is served', { timeout: 240_000 }, async () => {
    const cases = await poisonCases(MAX_BYTES);
    for (const c of cases) await drop(s3(), stack(), c.key, c.bytes, c.contentType);
    const { firstFrame } = await animatedGif();
    await drop(s3(), stack(), 'poison/animated-frame0.png', firstFrame);
    const next = await noiseImage(50_002);
    await drop(s3(), stack(), 'poison/next-good.png', next);
    const all = await waitFinal([...cases.map((c) => c.key), 'poison/animated-frame0.png', 'poison/next-good.png']);
    await drained();
    const outcome = (r: ImageRecord) => (r.status === 'failed' ? { status: r.status, reason: r.error?.code } : { status: r.status });
    expect(Object.fromEntries(cases.map((c) => [c.name, outcome(all.get(c.key)!)]))).toEqual(Object.fromEntries(cases.map((c) => [c.name, c.expected])));
    for (const c of cases) {
      const r = all.get(c.key)!;
      if (r.status === 'failed') expect(r.error?.message.length).toBeGreaterThan(10);
      // One receive each: no retry storm.
      const receives = new Set(linesOfKey(c.key).map((l) => l.receiveCount));
      expect({ key: c.key, receives: [...receives] }).toEqual({ key: c.key, receives: [1] });
      expect(linesOfKey(c.key).filter((l) => l.msg === 'image finished')).toHaveLength(1);
    }
    // The animated GIF is captioned from its first frame.
    expect(all.get('poison/animated.gif')?.tokenIds).toEqual(all.get('poison/animated-frame0.png')?.tokenIds);
    expect(all.get('poison/next-good.png')?.status).toBe('done');
    expect(await peekDlq(sqs(), stack())).toEqual([]);
    console.info(`[faults] poison (bucket): ${cases.map((c) => `${c.name}=${JSON.stringify(outcome(all.get(c.key)!))}`).join('; ')}`);
  });

  it('offered through the upload API: refused up front with a 4xx, or uploaded and ending like the dropped copy', { timeout: 240_000 }, async () => {
    const cases = await poisonCases(MAX_BYTES);
    const statusUrls = new Map<string, string>();
    const alice = await authHeader(stack(), 'alice');
    for (const c of cases) {
      const res = await app.request('/v1/uploads', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...alice },
        body: JSON.stringify({ contentType: c.contentType, contentLength: c.bytes.length, filename: c.key.split('/').pop() }),
      });
      const body = (await res.json()) as { statusUrl: string; upload: { url: string; headers: Record<string, string> }; error?: { code: string; message: string } };
      if (c.api === 201) {
        expect({ name: c.name, status: res.status }).toEqual({ name: c.name, status: 201 });
        const put = await fetch(body.upload.url, { method: 'PUT', headers: body.upload.headers, body: c.bytes });
        expect({ name: c.name, put: put.status }).toEqual({ name: c.name, put: 200 });
        statusUrls.set(c.name, body.statusUrl);
      } else {
        expect({ name: c.name, status: res.status, code: body.error?.code }).toEqual({ name: c.name, ...c.api });
      }
    }
    const finals = await poll(
      async () => Promise.all([...statusUrls].map(async ([name, url]) => [name, (await (await app.request(url, { headers: alice })).json()) as ImageRecord] as const)),
      (rs) => rs.every(([, r]) => r.status === 'done' || r.status === 'failed'),
      120_000,
      'API uploads final',
      300,
    );
    for (const [name, r] of finals) {
      const c = cases.find((x) => x.name === name)!;
      expect({ name, outcome: r.status === 'failed' ? { status: r.status, reason: r.error?.code } : { status: r.status } }).toEqual({ name, outcome: c.expected });
    }
    await drained();
    expect(await peekDlq(sqs(), stack())).toEqual([]);
  });
});

describe('queue semantics (scenario 6)', () => {
  it('ignores s3:TestEvent, decodes keys with spaces, +, % and unicode, and lets the later sequencer of an overwrite win', { timeout: 240_000 }, async () => {
    const ignoredBefore = worker.logged('s3:TestEvent ignored').length;
    await sendBody(testEventNotification(stack().s3.bucket));
    const keys = ['odd keys/a b c.png', 'odd keys/1+1=2.png', 'odd keys/100% sure.png', 'odd keys/été 猫 🐈.png', 'odd keys/%2B literally.png'];
    for (const [i, k] of keys.entries()) await drop(s3(), stack(), k, await noiseImage(60_000 + i));
    const odd = await waitFinal(keys);
    expect(keys.map((k) => [odd.get(k)?.status, odd.get(k)?.objectKey])).toEqual(keys.map((k) => ['done', k]));

    // Overwrite: two versions of one key in quick succession; the later sequencer wins.
    const older = await noiseImage(61_000);
    const newer = await noiseImage(61_001);
    await drop(s3(), stack(), 'overwrite/photo.png', older);
    await drop(s3(), stack(), 'overwrite/photo.png', newer);
    await drop(s3(), stack(), 'overwrite/reference.png', newer);
    await stack().drainS3Events();
    await drained();
    const [photo, reference] = await Promise.all([recordOfKey(records, 'overwrite/photo.png'), recordOfKey(records, 'overwrite/reference.png')]);
    expect(photo).toMatchObject({ status: 'done', contentSha256: sha256(newer) });
    expect(photo?.tokenIds).toEqual(reference?.tokenIds);
    // An older event replayed later (S3 gives no ordering guarantee) is stale: the record keeps the newer caption.
    await sendBody(objectEvent('overwrite/photo.png', older.length, '0000000000000001'));
    await poll(async () => linesOfKey('overwrite/photo.png').some((l) => l.msg === 'a newer event for this key exists: skipped'), Boolean, 30_000, 'stale event skipped');
    await drained();
    expect(await recordOfKey(records, 'overwrite/photo.png')).toMatchObject({ status: 'done', contentSha256: sha256(newer), tokenIds: reference?.tokenIds });
    expect(worker.logged('s3:TestEvent ignored').length - ignoredBefore).toBe(1);
    expect(await peekDlq(sqs(), stack())).toEqual([]);
    // A message that keeps failing for an unexpected reason reaches the DLQ with the record saying so:
    // test/worker/worker.test.ts (permanent write failure) and test/faults/dynamodb.test.ts (injected at the client).
  });
});

describe('slow job (scenario 7)', () => {
  it(`a receive whose jobs outlast the ${VISIBILITY_S} s visibility timeout several times is delivered once (heartbeat)`, { timeout: 240_000 }, async () => {
    // The jobs are made long by a legitimate situation: another worker holds the caption claim of one
    // content for CLAIM_MS, so this worker waits for it (then takes the lapsed claim over and runs the
    // model); the other images of the receive are large (decoding and resizing take a while too).
    const CLAIM_MS = VISIBILITY_S * 3_000;
    const contested = await noiseImage(70_000, { width: 1600, height: 1200, format: 'jpeg' });
    const started = worker.logged('worker started')[0];
    const model = { name: String(started?.captioner), key: String(started?.captionKey) };
    expect(await records.claimCaption(model, sha256(contested), undefined, 'another-worker', CLAIM_MS)).toEqual({ kind: 'claimed' });
    const claimedAt = Date.now();
    const keys = Array.from({ length: SLOW_IMAGES }, (_, i) => `slow/large-${i}.jpg`);
    const images = [contested, contested, ...(await Promise.all(keys.slice(2).map((_, i) => noiseImage(70_001 + i, { width: 1600, height: 1200, format: 'jpeg' }))))];
    const before = worker.inferences();
    await Promise.all(keys.map((k, i) => drop(s3(), stack(), k, images[i]!)));
    const all = await waitFinal(keys);
    await drained();
    expect([...all.values()].map((r) => r.status)).toEqual(Array(SLOW_IMAGES).fill('done'));
    // The contested content finished only after the other worker's claim lapsed: its job outlived the visibility timeout.
    const contestedDone = Math.min(...keys.slice(0, 2).map((k) => Date.parse(all.get(k)!.updatedAt)));
    expect(contestedDone - claimedAt).toBeGreaterThanOrEqual(CLAIM_MS);
    for (const k of keys) expect({ k, receives: [...new Set(linesOfKey(k).map((l) => l.receiveCount))] }).toEqual({ k, receives: [1] });
    expect(worker.inferences() - before).toBe(SLOW_IMAGES - 1);
    expect(all.get(keys[0]!)?.tokenIds).toEqual(all.get(keys[1]!)?.tokenIds);
    const longest = Math.max(...[...all.values()].map((r) => (r.timingsMs?.totalMs ?? 0) - (r.timingsMs?.queueMs ?? 0)));
    expect(longest).toBeGreaterThan(VISIBILITY_S * 1000);
    console.info(`[faults] slow job: ${SLOW_IMAGES} images (one content claimed by another worker for ${CLAIM_MS} ms), longest job ${longest} ms vs visibility ${VISIBILITY_S * 1000} ms, receives per message 1, inferences ${worker.inferences() - before}`);
  });
});

describe('Redis outage (scenario 3)', () => {
  it('Redis stopped halfway through a batch and restarted: no job fails, status answers from DynamoDB, the cache refills', { timeout: 240_000 }, async () => {
    const n = SOAK ? 60 : 16;
    const keys = Array.from({ length: n }, (_, i) => `outage/img-${i}.png`);
    const images = await Promise.all(keys.map((_, i) => noiseImage(80_000 + (i % (n / 2)))));
    const half = keys.length / 2;
    for (const [i, k] of keys.slice(0, half).entries()) await drop(s3(), stack(), k, images[i]!);
    await poll(() => finalRecords(records, keys.slice(0, half)), (m) => [...m.values()].filter(isFinal).length >= 2, 120_000, 'first images of the batch done');
    await stack().stopRedis();
    for (const [i, k] of keys.slice(half).entries()) await drop(s3(), stack(), k, images[half + i]!);
    const all = await waitFinal(keys);
    // Status lookups answer from DynamoDB while Redis is down.
    const during = await Promise.all(keys.map(async (k) => (await app.request(`/v1/objects?key=${encodeURIComponent(k)}`, { headers: operator })).status));
    expect(during).toEqual(Array(n).fill(200));
    expect((await (await app.request('/healthz')).json()) as { cache: string }).toMatchObject({ cache: 'unavailable' });
    expect([...all.values()].map((r) => r.status)).toEqual(Array(n).fill('done'));
    await stack().startRedis();
    await poll(async () => api.cache.ready, Boolean, 20_000, 'API cache reconnected');
    for (const k of keys) expect((await app.request(`/v1/objects?key=${encodeURIComponent(k)}`, { headers: operator })).status).toBe(200);
    const cached = await Promise.all(keys.map((k) => api.cache.getJson(`image:${idForObjectKey(k, stack().objectIdSecret)}`, (v) => v as ImageRecord)));
    expect(cached.map((r) => r?.status)).toEqual(Array(n).fill('done'));
    await drained();
    expect(await peekDlq(sqs(), stack())).toEqual([]);
    console.info(`[faults] redis outage: ${n} images (${n / 2} distinct), ${[...all.values()].filter((r) => r.status === 'done').length} done, 0 failed; ${during.filter((s) => s === 200).length}/${n} lookups answered during the outage; ${cached.filter(Boolean).length}/${n} cached after`);
  });
});

describe('a message that keeps failing (scenario 6, DLQ)', () => {
  it('an unexpected error on every receive: retried with backoff, recorded failed: processing_error on the last receive, then in the DLQ', { timeout: 240_000 }, async () => {
    // The unexpected fault: the image's record in the table is unreadable (written by something else,
    // `createdAt` a number), so every attempt fails validation. Nothing about the image is wrong.
    const key = 'unexpected/unreadable-record.png';
    const imageId = idForObjectKey(key, stack().objectIdSecret);
    const table = stack().dynamodb.table;
    await clients().dynamodb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: PK.image(imageId) }, imageId: { S: imageId }, createdAt: { N: '12345' } } }));
    await drop(s3(), stack(), key, await noiseImage(95_000));
    await poll(() => peekDlq(sqs(), stack()), (bodies) => bodies.some((b) => b.includes('unreadable-record')), 120_000, 'the message in the DLQ', 500);
    const receives = [...new Set(linesOfKey(key).map((l) => Number(l.receiveCount)))].sort();
    expect(receives).toEqual([1, 2, 3, 4, 5]);
    const raw = await clients().dynamodb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: PK.image(imageId) } }, ConsistentRead: true }));
    expect(raw.Item?.status?.S).toBe('failed');
    expect(raw.Item?.error?.M?.code?.S).toBe('processing_error');
    expect(raw.Item?.error?.M?.message?.S).toMatch(/processing failed 5 times/);
    console.info(`[faults] unexpected failure: receives ${receives.join(',')}, record failed: processing_error, message in the DLQ`);
  });
});

describe('shutdown (scenario 8)', () => {
  it('SIGTERM during a model batch: no new receives, the batch in hand completes and is deleted, exit 0', { timeout: 240_000 }, async () => {
    const keys = Array.from({ length: 25 }, (_, i) => `shutdown/img-${i}.png`);
    const images = await Promise.all(keys.map((_, i) => noiseImage(90_000 + i)));
    const startsBefore = worker.logged('model batch started').length;
    await Promise.all(keys.map((k, i) => drop(s3(), stack(), k, images[i]!)));
    // Wait for a receive with several images in the model (the first receives may carry one message each).
    await worker.waitForLine(
      (l) => l.msg === 'model batch started' && Number(l.images) >= 3 && worker.logged('model batch started').length > startsBefore,
      120_000,
      'a model batch of several shutdown images',
    );
    const at = worker.lines.length;
    const signalledAt = Date.now();
    worker.signal('SIGTERM');
    const exit = await Promise.race([worker.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
    expect(exit).toEqual({ code: 0, signal: null });
    const after = worker.lines.slice(at);
    expect(after.filter((l) => l.msg === 'model batch started')).toEqual([]);
    const finished = after.filter((l) => l.msg === 'image finished' && typeof l.key === 'string' && l.key.startsWith('shutdown/'));
    expect(finished.length).toBeGreaterThan(0);
    const state = await finalRecords(records, keys);
    const done = [...state.values()].filter((r) => r?.status === 'done').length;
    expect([...state.values()].filter((r) => r?.status === 'processing' || r?.status === 'queued')).toEqual([]);
    // Everything not finished is back on the queue (released, not lost), nothing in flight.
    // (A long poll cut by the signal may have had messages on the way: they reappear after the visibility timeout.)
    const counts = await poll(() => queueCounts(sqs(), stack().sqs.queueUrl), (c) => c.inFlight === 0, VISIBILITY_S * 5_000, 'nothing in flight');
    expect(done + counts.visible).toBe(keys.length);
    console.info(`[faults] shutdown: SIGTERM with a batch in the model; exit ${JSON.stringify(exit)} after ${Date.now() - signalledAt} ms; ${finished.length} images of the batch finished after the signal, ${done} done, ${counts.visible} released to the queue`);
  });
});

import { afterAll, describe, expect, it } from 'vitest';
import type { CaptionRecord } from '../../services/core/records.js';
import { useLocalClients, useLocalStack } from '../support/local-stack.js';
import { spawnWorker, type WorkerProcess } from '../support/worker-process.js';
import { SOAK, drop, finalRecords, noiseImage, peekDlq, poll, queueCounts, recordStore, sha256, total } from './support.js';

/**
 * Scenario 1: the worker process is SIGKILLed while a model batch is running, then restarted.
 * A claim abandoned by a dead worker is taken over by lease expiry: the caption claim's lease equals
 * the visibility timeout (renewed every third of it by the heartbeat), so when the dead worker's
 * messages become visible again its claims have lapsed, and the next delivery claims the content
 * (conditional put on `leaseUntil < now`) and runs the model once.
 */
const VISIBILITY_S = 3;
const DISTINCT = SOAK ? 150 : 30;
const DUPLICATES = SOAK ? 50 : 10;

const stack = useLocalStack({ visibilityTimeoutSeconds: VISIBILITY_S });
const clients = useLocalClients(stack);
const workers: WorkerProcess[] = [];

afterAll(async () => {
  await Promise.all(workers.map((w) => w.kill()));
});

function startWorker(): WorkerProcess {
  const worker = spawnWorker({
    env: { ...stack().env(), BLIPLINE_VISIBILITY_TIMEOUT_SECONDS: String(VISIBILITY_S), BLIPLINE_RECEIVE_WAIT_SECONDS: '2' },
  });
  workers.push(worker);
  return worker;
}

describe('crash mid-job (worker SIGKILLed during a model batch, then restarted)', () => {
  it('ends with one done record per object, none processing, and one inference per distinct content', { timeout: SOAK ? 900_000 : 240_000 }, async () => {
    const records = recordStore(stack());

    const images = await Promise.all(Array.from({ length: DISTINCT }, (_, i) => noiseImage(i, { format: i % 3 === 0 ? 'jpeg' : 'png' })));
    const keys: string[] = [];
    const bytesOf = new Map<string, Buffer>();
    for (let i = 0; i < DISTINCT + DUPLICATES; i += 1) {
      const key = i < DISTINCT ? `crash/img-${i}.png` : `crash/dup-${i - DISTINCT}.png`;
      const bytes = images[i % DISTINCT]!;
      keys.push(key);
      bytesOf.set(key, bytes);
    }
    await Promise.all(keys.map((k) => drop(clients().s3, stack(), k, bytesOf.get(k)!)));
    await stack().drainS3Events();
    // Everything is queued before the worker starts: it receives full batches of 10 and prefetches the next.
    const first = startWorker();
    await first.ready;
    const workerId = String((await first.waitForLine((l) => l.msg === 'worker started')).workerId);

    // Kill inside the second model batch: messages are held, claims are live, nothing of it is written.
    const batchStarts = () => first.logged('model batch started').length;
    await first.waitForLine(() => batchStarts() >= 2, 120_000, 'the second model batch');
    const triggerIndex = first.lines.length;
    await first.kill();
    const afterTrigger = first.lines.slice(triggerIndex);
    // The kill must have landed inside the batch (no result of it printed), or the count below is off by design.
    expect(afterTrigger.filter((l) => l.msg === 'model batch done')).toEqual([]);

    const atKill = await finalRecords(records, keys);
    const finalAtKill = [...atKill.values()].filter((r) => r?.status === 'done').length;
    expect(finalAtKill).toBeLessThan(keys.length);
    const model = [...atKill.values()].find((r) => r?.model)?.model ?? first.logged('worker started')[0]?.captioner;
    expect(typeof model).toBe('string');
    const distinctShas = [...new Set(images.map(sha256))];
    // Captions are keyed by name + precision + checkpoint (the worker logs that key when it starts).
    const captionKey = { name: String(model), key: String(first.logged('worker started')[0]?.captionKey) };
    const captionsAtKill = await Promise.all(distinctShas.map((s) => records.getCaption(captionKey, s)));
    const abandoned = captionsAtKill.filter((c): c is Extract<CaptionRecord, { state: 'pending' }> => c?.state === 'pending' && c.owner === workerId);
    expect(abandoned.length).toBeGreaterThan(0);
    const stuckProcessing = [...atKill.values()].filter((r) => r?.status === 'processing').length;
    expect(stuckProcessing).toBeGreaterThan(0);

    const second = startWorker();
    await second.ready;
    const done = await poll(
      () => finalRecords(records, keys),
      (m) => [...m.values()].every((r) => r?.status === 'done' || r?.status === 'failed'),
      SOAK ? 600_000 : 180_000,
      'every object final',
      500,
    );
    await poll(() => queueCounts(clients().sqs, stack().sqs.queueUrl), (c) => total(c) === 0, 30_000, 'queue drained');

    const statuses = [...done.values()].map((r) => r?.status);
    expect(statuses.filter((s) => s === 'done')).toHaveLength(keys.length);
    expect(new Set([...done.values()].map((r) => r?.imageId)).size).toBe(keys.length);
    for (const key of keys) {
      const r = done.get(key)!;
      expect(r.contentSha256).toBe(sha256(bytesOf.get(key)!));
    }
    // Duplicates point at the caption of their content.
    for (let d = 0; d < DUPLICATES; d += 1) {
      expect(done.get(`crash/dup-${d}.png`)?.tokenIds).toEqual(done.get(`crash/img-${d}.png`)?.tokenIds);
    }
    // The abandoned claims were taken over and completed.
    const captionsAfter = await Promise.all(abandoned.map((c) => records.getCaption(captionKey, c.contentSha256)));
    expect(captionsAfter.every((c) => c?.state === 'done')).toBe(true);

    const inferences = first.inferences() + second.inferences();
    expect({ inferences, distinct: distinctShas.length }).toEqual({ inferences: distinctShas.length, distinct: distinctShas.length });
    expect(await peekDlq(clients().sqs, stack())).toEqual([]);
    console.info(
      `[faults] crash: ${keys.length} objects (${distinctShas.length} distinct), killed with ${finalAtKill} done, ${stuckProcessing} processing, ` +
        `${abandoned.length} claims abandoned; after restart ${statuses.length} done, inferences ${first.inferences()} + ${second.inferences()} = ${inferences}`,
    );
    await second.stop();
  });
});

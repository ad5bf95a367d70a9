import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniformPlan } from '../../services/bench/captioning-graphs.js';
import { type FidelitySummary, measureFidelity } from '../../services/bench/fidelity.js';
import { captioningModelDir, captioningReference, readF32 } from '../support/fixtures.js';

// int8 graphs are judged against float32 by agreement, not equality (fixture README). Floors sit
// below what the fixture measures (cosine 0.99993, KL mean 4e-4 nats, top-1 0.905 on paths whose
// smallest float32 margin is 0.001) so that only a real regression trips them.
const scratch = mkdtempSync(path.join(tmpdir(), 'blipline-precision-'));
let summaries: FidelitySummary[] = [];

beforeAll(async () => {
  const reference = captioningReference().cases;
  expect(reference.length).toBeGreaterThan(0);
  const cases = reference.map((c) => ({
    name: c.image,
    pixels: readF32(`pixel_values/${c.image}.f32`),
    tokenIds: c.teacher_forced.input_ids,
  }));
  summaries = await measureFidelity({
    checkpointDir: captioningModelDir,
    plans: [uniformPlan('int8'), { vision: 'int8', decoder: 'fp32' }],
    cases,
    threads: 2,
    cacheDir: scratch,
  });
}, 180_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('int8 graphs against float32 on the fixture checkpoint', () => {
  it('keeps the image states aligned', () => {
    expect(summaries).toHaveLength(2);
    for (const s of summaries) {
      expect(s.cases.length).toBeGreaterThan(0);
      expect(s.imageStatesCosineMin).toBeGreaterThan(0.999);
      for (const c of s.cases) expect(c.imageStatesMinTokenCosine, c.name).toBeGreaterThan(0.995);
    }
  });

  it('keeps next-token distributions close along the reference greedy paths', () => {
    const [allInt8, fp32Decoder] = summaries as [FidelitySummary, FidelitySummary];
    expect(allInt8.klMean).toBeLessThan(2e-3);
    expect(allInt8.klMax).toBeLessThan(1e-2);
    expect(allInt8.top1Agreement).toBeGreaterThanOrEqual(0.85);
    // with the decoder in float32 only the image side is quantised
    expect(fp32Decoder.klMean).toBeLessThan(5e-4);
    expect(fp32Decoder.top1Agreement).toBeGreaterThanOrEqual(0.93);
  });

  it('agrees on every position where float32 is decisive', () => {
    // flips are confined to near-ties: where float32's top-1 leads by more than 0.1 logits, int8 agrees
    expect(summaries).toHaveLength(2);
    for (const s of summaries) {
      expect(s.cases.length).toBeGreaterThan(0);
      for (const c of s.cases) {
        expect(c.decisivePositions, c.name).toBeGreaterThan(0);
        expect(c.decisiveAgreement, c.name).toBe(1);
        expect(c.maxLogitDiff, c.name).toBeLessThan(0.5);
      }
    }
  });
});

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FidelitySummary } from '../../services/bench/fidelity.js';
import { avx2Kernels, preloadEnv } from '../../services/bench/isa/index.js';
import { cacheRoot } from '../../services/bench/checkpoints.js';
import { fixtureFidelity } from '../support/fixture-fidelity.js';

// int8 graphs are judged against float32 by agreement, not equality (fixture README). Floors sit
// below what the fixture measures (cosine 0.99993, KL mean 4e-4 nats, top-1 0.905 on paths whose
// smallest float32 margin is 0.001) so that only a real regression trips them. They hold on the
// kernels ONNX Runtime picks here and on the AVX2 kernels of AVX2-only CPUs (int8 products sum in
// 16 bits there), which services/bench/isa gives a process of its own on hosts that have more.
const scratch = mkdtempSync(path.join(tmpdir(), 'blipline-precision-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const repoRoot = path.resolve(import.meta.dirname, '../..');
const avx2 = avx2Kernels(cacheRoot());

const kernelSets = [
  { kernels: 'native', skip: undefined, summaries: () => fixtureFidelity(path.join(scratch, 'native')) },
  {
    kernels: 'AVX2',
    // an AVX2-only host's native kernels are these already
    skip: avx2.kind === 'emulated' ? undefined : avx2.kind === 'native' ? 'this host has AVX2 kernels only: the native run covers them' : avx2.reason,
    summaries: async (): Promise<FidelitySummary[]> => {
      if (avx2.kind !== 'emulated') throw new Error('AVX2 kernels cannot be emulated here');
      const stdout = execFileSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'test/support/fixture-fidelity.ts'), path.join(scratch, 'avx2')], {
        env: preloadEnv(process.env, avx2.preload),
        cwd: repoRoot,
        encoding: 'utf8',
      });
      return JSON.parse(stdout) as FidelitySummary[];
    },
  },
];

describe.each(kernelSets)('on $kernels kernels', ({ skip, summaries: measure }) => {
  let summaries: FidelitySummary[] = [];
  const fidelity = it.skipIf(skip !== undefined);
  beforeAll(async () => {
    if (skip === undefined) summaries = await measure();
  }, 180_000);

  fidelity(`keeps the image states aligned${skip ? ` (skipped: ${skip})` : ''}`, () => {
    expect(summaries).toHaveLength(2);
    for (const s of summaries) {
      expect(s.cases.length).toBeGreaterThan(0);
      expect(s.imageStatesCosineMin).toBeGreaterThan(0.999);
      for (const c of s.cases) expect(c.imageStatesMinTokenCosine, c.name).toBeGreaterThan(0.995);
    }
  });

  fidelity(`keeps next-token distributions close along the reference greedy paths${skip ? ` (skipped: ${skip})` : ''}`, () => {
    const [allInt8, fp32Decoder] = summaries as [FidelitySummary, FidelitySummary];
    expect(allInt8.klMean).toBeLessThan(2e-3);
    expect(allInt8.klMax).toBeLessThan(1e-2);
    expect(allInt8.top1Agreement).toBeGreaterThanOrEqual(0.85);
    // with the decoder in float32 only the image side is quantised
    expect(fp32Decoder.klMean).toBeLessThan(5e-4);
    expect(fp32Decoder.top1Agreement).toBeGreaterThanOrEqual(0.93);
  });

  fidelity(`agrees on every position where float32 is decisive${skip ? ` (skipped: ${skip})` : ''}`, () => {
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

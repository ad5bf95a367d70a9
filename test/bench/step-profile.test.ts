import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { profileDecoderStep } from '../../services/bench/step-profile.js';
import { captioningModelDir } from '../support/fixtures.js';

// `npm run bench -- --profile-step` on the fixture checkpoint: ONNX Runtime's real profile of the int8
// step, at one row and at several rows with an image each.
const scratch = mkdtempSync(path.join(tmpdir(), 'blipline-step-profile-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('profileDecoderStep', () => {
  it.each([1, 3])('accounts for every int8 linear layer of the step at %i row(s), by its weights', async (rows) => {
    const profile = await profileDecoderStep({ checkpointDir: captioningModelDir, precision: 'int8', threads: 2, cacheDir: scratch, runs: 2, tokens: 3, rows, log: () => {} });
    expect(profile).toMatchObject({ precision: 'int8', rows, steps: 6 });
    const products = profile.operators.find((o) => o.opType === 'DynamicQuantizeMatMul');
    expect(products?.nodesPerStep).toBeGreaterThan(0);
    // every int8 product reads weights of the graph, and is counted once under them
    expect(profile.linearLayers.reduce((n, l) => n + l.nodesPerStep, 0)).toBe(products?.nodesPerStep);
    expect(profile.weightKernelMsPerStep).toBeCloseTo(products?.msPerStep ?? 0, 6);
    // the layers repeat per decoder layer (the stacked self-attention projections named by what differs)
    expect(profile.linearLayers.map((l) => l.weights)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^text_decoder\.bert\.encoder\.layer\.\*\.attention\.self\.query\+key\+value \d+x\d+$/)]),
    );
    for (const layer of profile.linearLayers) expect(layer.gbps, layer.weights).toBeGreaterThan(0);
    expect(profile.kernelMsPerStep).toBeGreaterThan(profile.weightKernelMsPerStep);
  });
});

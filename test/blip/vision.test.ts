import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../services/blip/checkpoint/index.js';
import { buildVisionGraph, VISION_GRAPH } from '../../services/blip/modeling/vision.js';
import { writeModel } from '../../services/blip/onnx/index.js';
import { captioningModelDir, captioningReference, maxAbsDiff, readF32, referencePixels } from '../support/fixtures.js';

const scratch = await mkdtemp(path.join(os.tmpdir(), 'blipline-vision-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe('vision encoder graph', () => {
  it('reproduces the reference vision states within 1e-3 for every captioning case', async () => {
    const checkpoint = await openCheckpoint(captioningModelDir, { cacheDir: scratch });
    const graph = buildVisionGraph({ weights: await checkpoint.loadWeights(), precision: 'fp32' }, checkpoint.config.vision_config);
    const file = path.join(scratch, 'vision.onnx');
    await writeModel(graph, file);
    const session = await ort.InferenceSession.create(file);
    const cases = captioningReference().cases;
    expect(cases.length).toBeGreaterThan(0);
    for (const testCase of cases) {
      const { pixelValues } = referencePixels(testCase.image);
      const outputs = await session.run({ [VISION_GRAPH.input]: new ort.Tensor('float32', pixelValues, [1, 3, 384, 384]) });
      const states = outputs[VISION_GRAPH.output];
      expect(states?.dims).toEqual([1, 577, 48]);
      expect(maxAbsDiff(states?.data as Float32Array, readF32(testCase.vision_last_hidden_state))).toBeLessThan(1e-3);
    }
    await session.release();
  });
});

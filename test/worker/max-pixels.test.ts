import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBlip, type BlipModel } from '../../services/blip/index.js';
import { loadConfig } from '../../services/core/config.js';
import { blipCaptioner } from '../../services/worker/blip-adapter.js';
import { fixturePath } from '../support/fixtures.js';
import { captioningFixture } from '../pipeline/models.js';

const env = { AWS_REGION: 'us-east-1', BLIPLINE_BUCKET: 'my-bucket', BLIPLINE_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/jobs', BLIPLINE_TABLE: 'blipline', BLIPLINE_QUESTION_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/questions', BLIPLINE_AUTH: 'anonymous' };
let model: BlipModel;

beforeAll(async () => {
  // 7x5 passes; 200x200 (40 000) and 300x500 (150 000 pixels) are over this limit.
  model = await loadBlip({ model: captioningFixture, threads: 1, maxPixels: 10_000 });
});

afterAll(async () => {
  await model.dispose();
});

describe('worker memory limits', () => {
  it('BLIPLINE_DECODER_ROWS is optional (the runtime default applies) and validated', () => {
    expect(loadConfig(env).decoderRows).toBeUndefined();
    expect(loadConfig({ ...env, BLIPLINE_DECODER_ROWS: '8' }).decoderRows).toBe(8);
    expect(() => loadConfig({ ...env, BLIPLINE_DECODER_ROWS: '0' })).toThrow(/BLIPLINE_DECODER_ROWS/);
    expect(() => loadConfig({ ...env, BLIPLINE_DECODER_ROWS: '100' })).toThrow(/BLIPLINE_DECODER_ROWS: must be at most 64/);
  });

  it('BLIPLINE_MAX_PIXELS defaults to 50 MP and is validated', () => {
    expect(loadConfig(env).maxPixels).toBe(50_000_000);
    expect(loadConfig({ ...env, BLIPLINE_MAX_PIXELS: '4000000' }).maxPixels).toBe(4_000_000);
    expect(() => loadConfig({ ...env, BLIPLINE_MAX_PIXELS: 'lots' })).toThrow(/BLIPLINE_MAX_PIXELS/);
  });

  it('loadBlip({maxPixels}) fails larger inputs too_many_pixels; the others of the batch are captioned', async () => {
    const images = await Promise.all(['tiny_7x5.png', 'gray_200x200.png', 'tiny_7x5.png', 'alpha_300x500.png'].map((f) => readFile(fixturePath('images', f))));
    const outcomes = await blipCaptioner(model).caption(images.map((b) => new Uint8Array(b)));
    expect(outcomes.map((o) => (o.ok ? 'ok' : o.reason))).toEqual(['ok', 'too_many_pixels', 'ok', 'too_many_pixels']);
  });
});

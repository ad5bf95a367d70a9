import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildItcGraph, buildItmGraph, ITC_GRAPH, ITM_GRAPH } from '../../services/blip/modeling/matching-heads.js';
import { TEXT_ENCODER_GRAPH } from '../../services/blip/modeling/text-encoder.js';
import { buildVisionGraph, VISION_GRAPH } from '../../services/blip/modeling/vision.js';
import { graphSessions, maxAbsDiff, referencePixels } from '../support/fixtures.js';
import { retrievalModelDir, retrievalReference } from '../support/task-fixtures.js';

// Graph-level conformance of BlipForImageTextRetrieval: ITM logits and ITC cosine per case, and the
// padded batch of every text against one image equal to the texts one at a time.

const graphs = await graphSessions(retrievalModelDir, 'blipline-matching-graphs-');
const { checkpoint, session } = graphs;
const sessions = {} as Record<'vision' | 'itm' | 'itc', ort.InferenceSession>;

beforeAll(async () => {
  const context = await graphs.fp32Context();
  sessions.vision = await session(buildVisionGraph(context, checkpoint.config.vision_config));
  sessions.itm = await session(buildItmGraph(context, checkpoint.config));
  sessions.itc = await session(buildItcGraph(context, checkpoint.config));
});

function output(outputs: ort.InferenceSession.ReturnType, name: string): ort.Tensor {
  const value = outputs[name];
  if (!value) throw new Error(`no output ${name}`);
  return value;
}

async function visionStates(image: string): Promise<ort.Tensor> {
  const { pixelValues } = referencePixels(image);
  return output(
    await sessions.vision.run({ [VISION_GRAPH.input]: new ort.Tensor('float32', pixelValues, [1, 3, 384, 384]) }),
    VISION_GRAPH.output,
  );
}

/** Right-padded `[batch, longest]` ids and mask. */
function textFeeds(rows: number[][]): Record<string, ort.Tensor> {
  const longest = Math.max(...rows.map((r) => r.length));
  const ids = new BigInt64Array(rows.length * longest);
  const mask = new BigInt64Array(rows.length * longest);
  rows.forEach((row, i) => row.forEach((id, j) => {
    ids[i * longest + j] = BigInt(id);
    mask[i * longest + j] = 1n;
  }));
  return {
    [TEXT_ENCODER_GRAPH.inputIds]: new ort.Tensor('int64', ids, [rows.length, longest]),
    [TEXT_ENCODER_GRAPH.attentionMask]: new ort.Tensor('int64', mask, [rows.length, longest]),
  };
}

describe('matching graphs (blip-tiny-retrieval)', () => {
  const cases = retrievalReference();

  for (const testCase of cases) {
    it(`ITM logits and ITC cosine within 1e-3 (${testCase.image}: ${testCase.text})`, async () => {
      const states = await visionStates(testCase.image);
      const feeds = { ...textFeeds([testCase.input_ids]), [TEXT_ENCODER_GRAPH.encoderStates]: states };
      const itm = output(await sessions.itm.run(feeds), ITM_GRAPH.output);
      expect(itm.dims).toEqual([1, 2]);
      expect(maxAbsDiff(itm.data as Float32Array, testCase.itm_logits)).toBeLessThan(1e-3);
      const itc = output(await sessions.itc.run(feeds), ITC_GRAPH.cosine);
      expect(itc.dims).toEqual([1]);
      expect(maxAbsDiff(itc.data as Float32Array, testCase.itc_cosine)).toBeLessThan(1e-3);
    });
  }

  it('scores a padded batch of texts against one image (batch-1 image states) as one at a time', async () => {
    const image = cases[0]!.image;
    const batch = cases.filter((c) => c.image === image);
    const states = await visionStates(image);
    const feeds = { ...textFeeds(batch.map((c) => c.input_ids)), [TEXT_ENCODER_GRAPH.encoderStates]: states };
    const itm = output(await sessions.itm.run(feeds), ITM_GRAPH.output).data as Float32Array;
    const itc = output(await sessions.itc.run(feeds), ITC_GRAPH.cosine).data as Float32Array;
    expect(maxAbsDiff(itm, batch.flatMap((c) => c.itm_logits))).toBeLessThan(1e-3);
    expect(maxAbsDiff(itc, batch.flatMap((c) => c.itc_cosine))).toBeLessThan(1e-3);
  });
});

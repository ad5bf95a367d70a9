import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import * as decoder from '../../services/blip/modeling/text-decoder.js';
import { buildVisionGraph, VISION_GRAPH } from '../../services/blip/modeling/vision.js';
import { encoderStateInputs } from '../../services/blip/runtime/captioning.js';
import { captioningModelDir, captioningReference, graphSessions, maxAbsDiff, readF32, referencePixels } from '../support/fixtures.js';

const graphs = await graphSessions(captioningModelDir, 'blipline-text-');
const sessions: Record<'vision' | 'crossKeyValue' | 'stepOverKeyValues' | 'stepOverStates', ort.InferenceSession> = {} as never;
const { checkpoint, session } = graphs;
const text = checkpoint.config.text_config;
const layers = text.num_hidden_layers;

beforeAll(async () => {
  const context = await graphs.fp32Context();
  sessions.vision = await session(buildVisionGraph(context, checkpoint.config.vision_config));
  sessions.crossKeyValue = await session(decoder.buildCrossKeyValueGraph(context, text));
  sessions.stepOverKeyValues = await session(decoder.buildDecoderStepGraph(context, text, 'keyValues'));
  sessions.stepOverStates = await session(decoder.buildDecoderStepGraph(context, text, 'states'));
});

async function imageStates(image: string): Promise<ort.Tensor> {
  const { pixelValues } = referencePixels(image);
  const vision = await sessions.vision.run({ [VISION_GRAPH.input]: new ort.Tensor('float32', pixelValues, [1, 3, 384, 384]) });
  const states = vision[VISION_GRAPH.output];
  if (!states) throw new Error('no vision output');
  return states;
}

/** The step graph of each cross-attention form and what it cross-attends to for `image`. */
const crossForms: Record<decoder.CrossAttentionInput, (image: string) => Promise<{ step: ort.InferenceSession; cross: Record<string, ort.Tensor> }>> = {
  keyValues: async (image) => ({
    step: sessions.stepOverKeyValues,
    cross: await sessions.crossKeyValue.run({ [decoder.CROSS_KEY_VALUE_GRAPH.input]: await imageStates(image) }),
  }),
  states: async (image) => ({ step: sessions.stepOverStates, cross: encoderStateInputs(await imageStates(image), 1) }),
};

function emptyCache(): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (let layer = 0; layer < layers; layer += 1) {
    for (const name of [decoder.pastKeyName(layer), decoder.pastValueName(layer)]) {
      feeds[name] = new ort.Tensor('float32', new Float32Array(0), [0, 1, text.hidden_size]);
    }
  }
  return feeds;
}

/** `[past, batch, hidden]` + `[new, batch, hidden]` along the sequence. */
function append(past: ort.Tensor | undefined, fresh: ort.Tensor | undefined): ort.Tensor {
  if (!past || !fresh) throw new Error('missing cache tensor');
  const data = new Float32Array(past.data.length + fresh.data.length);
  data.set(past.data as Float32Array);
  data.set(fresh.data as Float32Array, past.data.length);
  return new ort.Tensor('float32', data, [(past.dims[0] ?? 0) + (fresh.dims[0] ?? 0), ...past.dims.slice(1)]);
}

const ids = (values: number[]) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), [1, values.length]);

describe.each(Object.keys(crossForms) as decoder.CrossAttentionInput[])('text decoder graphs cross-attending to %s', (form) => {
  for (const testCase of captioningReference().cases) {
    it(`teacher-forced logits match the reference within 1e-3 (${testCase.image})`, async () => {
      const { step: stepSession, cross } = await crossForms[form](testCase.image);
      const reference = readF32(testCase.teacher_forced.logits);
      const tokens = testCase.teacher_forced.input_ids;

      const whole = await stepSession.run({ ...cross, ...emptyCache(), [decoder.DECODER_STEP_GRAPH.inputIds]: ids(tokens) });
      expect(whole.logits?.dims).toEqual([1, tokens.length, text.vocab_size]);
      expect(maxAbsDiff(whole.logits?.data as Float32Array, reference)).toBeLessThan(1e-3);

      // The same logits one token at a time through the sequence-major self-attention cache, which
      // grows by each step's new keys/values.
      const cache = emptyCache();
      for (const [position, token] of tokens.entries()) {
        const step = await stepSession.run({ ...cross, ...cache, [decoder.DECODER_STEP_GRAPH.inputIds]: ids([token]) });
        const expected = reference.subarray(position * text.vocab_size, (position + 1) * text.vocab_size);
        expect(maxAbsDiff(step.logits?.data as Float32Array, expected)).toBeLessThan(1e-3);
        for (let layer = 0; layer < layers; layer += 1) {
          cache[decoder.pastKeyName(layer)] = append(cache[decoder.pastKeyName(layer)], step[decoder.newKeyName(layer)]);
          cache[decoder.pastValueName(layer)] = append(cache[decoder.pastValueName(layer)], step[decoder.newValueName(layer)]);
        }
      }
      expect(cache[decoder.pastKeyName(0)]?.dims).toEqual([tokens.length, 1, text.hidden_size]);
    });
  }
});

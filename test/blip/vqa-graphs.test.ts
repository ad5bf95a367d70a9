import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import * as decoder from '../../services/blip/modeling/text-decoder.js';
import { buildQuestionEncoderGraph, TEXT_ENCODER_GRAPH } from '../../services/blip/modeling/text-encoder.js';
import { buildVisionGraph, VISION_GRAPH } from '../../services/blip/modeling/vision.js';
import { graphSessions, maxAbsDiff, readF32, referencePixels } from '../support/fixtures.js';
import { vqaModelDir, vqaReference } from '../support/task-fixtures.js';

// Graph-level conformance of BlipForQuestionAnswering: vision states, question states
// (question_embeds) and teacher-forced answer logits against the Hugging Face reference.

const graphs = await graphSessions(vqaModelDir, 'blipline-vqa-graphs-');
const { checkpoint, session } = graphs;
const text = checkpoint.config.text_config;
const sessions = {} as Record<'vision' | 'question' | 'crossKeyValue' | 'step', ort.InferenceSession>;

beforeAll(async () => {
  const context = await graphs.fp32Context();
  sessions.vision = await session(buildVisionGraph(context, checkpoint.config.vision_config));
  sessions.question = await session(buildQuestionEncoderGraph(context, text));
  sessions.crossKeyValue = await session(decoder.buildCrossKeyValueGraph(context, text));
  sessions.step = await session(decoder.buildDecoderStepGraph(context, text, 'keyValues'));
});

const int64 = (values: number[]) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), [1, values.length]);

function output(outputs: ort.InferenceSession.ReturnType, name: string): ort.Tensor {
  const value = outputs[name];
  if (!value) throw new Error(`no output ${name}`);
  return value;
}

describe('VQA graphs (blip-tiny-vqa)', () => {
  it('uses a vision width equal to the text width, as BlipForQuestionAnswering requires', () => {
    expect(checkpoint.config.kind).toBe('vqa');
    expect(checkpoint.config.vision_config.hidden_size).toBe(text.hidden_size);
  });

  for (const testCase of vqaReference()) {
    it(`vision states, question states and answer logits within 1e-3 (${testCase.image}: ${testCase.question})`, async () => {
      const { pixelValues } = referencePixels(testCase.image);
      const vision = output(
        await sessions.vision.run({ [VISION_GRAPH.input]: new ort.Tensor('float32', pixelValues, [1, 3, 384, 384]) }),
        VISION_GRAPH.output,
      );
      expect(maxAbsDiff(vision.data as Float32Array, readF32(testCase.vision_last_hidden_state))).toBeLessThan(1e-3);

      const ids = testCase.question_input_ids;
      const question = output(
        await sessions.question.run({
          [TEXT_ENCODER_GRAPH.inputIds]: int64(ids),
          [TEXT_ENCODER_GRAPH.attentionMask]: int64(ids.map(() => 1)),
          [TEXT_ENCODER_GRAPH.encoderStates]: vision,
        }),
        TEXT_ENCODER_GRAPH.output,
      );
      expect(question.dims).toEqual([1, ids.length, text.hidden_size]);
      expect(maxAbsDiff(question.data as Float32Array, readF32(testCase.question_embeds))).toBeLessThan(1e-3);

      const cross = await sessions.crossKeyValue.run({ [decoder.CROSS_KEY_VALUE_GRAPH.input]: question });
      const empty: Record<string, ort.Tensor> = {};
      for (let layer = 0; layer < text.num_hidden_layers; layer += 1) {
        for (const name of [decoder.pastKeyName(layer), decoder.pastValueName(layer)]) {
          empty[name] = new ort.Tensor('float32', new Float32Array(0), [0, 1, text.hidden_size]);
        }
      }
      const tokens = testCase.teacher_forced.input_ids;
      const logits = output(
        await sessions.step.run({ ...cross, ...empty, [decoder.DECODER_STEP_GRAPH.inputIds]: int64(tokens) }),
        decoder.DECODER_STEP_GRAPH.logits,
      );
      expect(logits.dims).toEqual([1, tokens.length, text.vocab_size]);
      expect(maxAbsDiff(logits.data as Float32Array, readF32(testCase.teacher_forced.logits))).toBeLessThan(1e-3);
    });
  }
});

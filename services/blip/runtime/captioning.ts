import * as ort from 'onnxruntime-node';
import { beamSearch } from '../generation/beam-search.js';
import { greedySearch } from '../generation/greedy.js';
import type { GenerationSettings } from '../generation/types.js';
import { CROSS_KEY_VALUE_GRAPH, DECODER_STEP_GRAPH } from '../modeling/text-decoder.js';
import { VISION_GRAPH } from '../modeling/vision.js';
import { DecoderState } from './decoder-state.js';
import type { BlipRuntime } from './index.js';
import { runSession } from './sessions.js';

/**
 * `BlipForConditionalGeneration.generate`: vision encoder over the batch of images, cross-attention
 * keys/values once per image, then greedy or beam search over the cached decoder step.
 */

export interface CaptionRequest extends Omit<GenerationSettings, 'eosTokenId' | 'padTokenId'> {
  readonly beams: number;
}

export interface CaptionBatchResult {
  readonly tokenIds: number[][];
  readonly timingsMs: { vision: number; decode: number };
}

/** Stacks `[1, 3, S, S]` pixel arrays into one `[N, 3, S, S]` tensor. */
function stackImages(images: readonly Float32Array[], imageSize: number): ort.Tensor {
  const size = 3 * imageSize * imageSize;
  const data = new Float32Array(images.length * size);
  images.forEach((image, index) => data.set(image, index * size));
  return new ort.Tensor('float32', data, [images.length, 3, imageSize, imageSize]);
}

export async function generateCaptions(
  runtime: BlipRuntime,
  images: readonly Float32Array[],
  request: CaptionRequest,
): Promise<CaptionBatchResult> {
  const { vision_config: vision, text_config: text } = runtime.config;
  const visionStarted = performance.now();
  const pixels = stackImages(images, vision.image_size);
  const visionOut = await runSession(runtime.session(VISION_GRAPH.name), { [VISION_GRAPH.input]: pixels }, 'vision encoder');
  const crossKeyValues = await runSession(
    runtime.session(CROSS_KEY_VALUE_GRAPH.name),
    { [CROSS_KEY_VALUE_GRAPH.input]: visionOut[VISION_GRAPH.output] as ort.Tensor },
    'cross-attention keys/values',
  );
  const decodeStarted = performance.now();

  const decoder = new DecoderState(
    runtime.session(DECODER_STEP_GRAPH.name),
    text.num_hidden_layers,
    text.vocab_size,
    crossKeyValues,
    request.beams,
  );
  const settings = { ...request, eosTokenId: text.sep_token_id, padTokenId: text.pad_token_id };
  const tokenIds =
    request.beams > 1 ? await beamSearch(decoder, images.length, settings) : await greedySearch(decoder, images.length, settings);
  return { tokenIds, timingsMs: { vision: decodeStarted - visionStarted, decode: performance.now() - decodeStarted } };
}

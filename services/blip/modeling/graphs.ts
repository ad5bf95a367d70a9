import type { BlipConfig, BlipModelKind } from '../config.js';
import type { GraphBuilder } from '../onnx/graph.js';
import type { BuildContext } from './context.js';
import { buildItcGraph, buildItmGraph, ITC_GRAPH, ITM_GRAPH } from './matching-heads.js';
import { buildQuestionEncoderGraph, TEXT_ENCODER_GRAPH } from './text-encoder.js';
import { buildCrossKeyValueGraph, buildDecoderStepGraph, CROSS_KEY_VALUE_GRAPH, DECODER_STEP_GRAPH } from './text-decoder.js';
import { buildVisionGraph, VISION_GRAPH } from './vision.js';

/**
 * The graphs each kind of BLIP checkpoint compiles to. A new task adds its graphs here; bump
 * GRAPH_BUILDER_VERSION whenever any builder's output changes so cached graphs are rebuilt.
 */
export const GRAPH_BUILDER_VERSION = 2;

export interface GraphSpec {
  readonly name: string;
  build(context: Omit<BuildContext, 'g'>, config: BlipConfig): GraphBuilder;
}

const vision: GraphSpec = { name: VISION_GRAPH.name, build: (context, config) => buildVisionGraph(context, config.vision_config) };
const textCrossKeyValue: GraphSpec = {
  name: CROSS_KEY_VALUE_GRAPH.name,
  build: (context, config) => buildCrossKeyValueGraph(context, config.text_config),
};
const textDecoderStep: GraphSpec = {
  name: DECODER_STEP_GRAPH.name,
  build: (context, config) => buildDecoderStepGraph(context, config.text_config),
};

const textEncoder: GraphSpec = {
  name: TEXT_ENCODER_GRAPH.name,
  build: (context, config) => buildQuestionEncoderGraph(context, config.text_config),
};
const imageTextMatching: GraphSpec = { name: ITM_GRAPH.name, build: buildItmGraph };
const imageTextContrastive: GraphSpec = { name: ITC_GRAPH.name, build: buildItcGraph };

export const GRAPH_SETS: Record<BlipModelKind, readonly GraphSpec[]> = {
  captioning: [vision, textCrossKeyValue, textDecoderStep],
  vqa: [vision, textEncoder, textCrossKeyValue, textDecoderStep],
  retrieval: [vision, imageTextMatching, imageTextContrastive],
};

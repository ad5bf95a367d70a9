import type { CheckpointWeights } from '../checkpoint/index.js';
import type { BlipConfig, BlipModelKind } from '../config.js';
import { BlipCheckpointError } from '../errors.js';
import type { GraphBuilder } from '../onnx/graph.js';
import type { BuildContext } from './context.js';
import { buildItcGraph, buildItmGraph, ITC_GRAPH, ITM_GRAPH, MATCHING_HEAD_WEIGHTS } from './matching-heads.js';
import { buildQuestionEncoderGraph, TEXT_ENCODER_GRAPH } from './text-encoder.js';
import { buildCrossKeyValueGraph, buildDecoderStepGraph, CROSS_KEY_VALUE_GRAPH, DECODER_STEP_GRAPH } from './text-decoder.js';
import { buildVisionGraph, VISION_GRAPH } from './vision.js';

/**
 * The graphs each kind of BLIP checkpoint compiles to. A new task adds its graphs here; bump
 * GRAPH_BUILDER_VERSION whenever any builder's output changes so cached graphs are rebuilt.
 */
export const GRAPH_BUILDER_VERSION = 9;

export interface GraphSpec {
  readonly name: string;
  build(context: Omit<BuildContext, 'g'>, config: BlipConfig): GraphBuilder;
}

const vision: GraphSpec = { name: VISION_GRAPH.name, build: (context, config) => buildVisionGraph(context, config.vision_config) };
const textCrossKeyValue: GraphSpec = {
  name: CROSS_KEY_VALUE_GRAPH.name,
  build: (context, config) => buildCrossKeyValueGraph(context, config.text_config),
};
/** Captioning cross-attends to an image's 577 states, VQA's answer decoder to a few question states. */
const textDecoderStepOverImages: GraphSpec = {
  name: DECODER_STEP_GRAPH.name,
  build: (context, config) => buildDecoderStepGraph(context, config.text_config, 'states'),
};
const textDecoderStepOverQuestions: GraphSpec = {
  name: DECODER_STEP_GRAPH.name,
  build: (context, config) => buildDecoderStepGraph(context, config.text_config, 'keyValues'),
};

const textEncoder: GraphSpec = {
  name: TEXT_ENCODER_GRAPH.name,
  build: (context, config) => buildQuestionEncoderGraph(context, config.text_config),
};
const imageTextMatching: GraphSpec = { name: ITM_GRAPH.name, build: buildItmGraph };
const imageTextContrastive: GraphSpec = { name: ITC_GRAPH.name, build: buildItcGraph };

export const GRAPH_SETS: Record<BlipModelKind, readonly GraphSpec[]> = {
  captioning: [vision, textDecoderStepOverImages],
  vqa: [vision, textEncoder, textCrossKeyValue, textDecoderStepOverQuestions],
  retrieval: [vision, imageTextMatching, imageTextContrastive],
};

/** The head the weights hold: matching heads, else a text encoder + decoder (VQA), else a decoder alone. */
export function headInWeights(weights: Pick<CheckpointWeights, 'has'>): BlipModelKind | undefined {
  const decoder = weights.has('text_decoder.cls.predictions.transform.dense.weight');
  const encoder = weights.has('text_encoder.embeddings.word_embeddings.weight');
  if (MATCHING_HEAD_WEIGHTS.every((name) => weights.has(name)) && encoder) return 'retrieval';
  if (encoder && decoder) return 'vqa';
  if (decoder && !encoder) return 'captioning';
  return undefined;
}

/**
 * `config.json` (`architectures`) names the head and the tensors must agree: a mislabelled checkpoint
 * is refused in one line instead of failing deep in a graph build or producing nonsense.
 */
export function checkHeadWeights(config: BlipConfig, weights: Pick<CheckpointWeights, 'has'>): void {
  const found = headInWeights(weights);
  if (found === config.kind) return;
  throw new BlipCheckpointError(
    'invalid_weights',
    `config.json names ${config.architectures.join(', ')} (a ${config.kind} checkpoint) but model.safetensors holds ` +
      (found ? `the tensors of a ${found} checkpoint` : 'no BLIP captioning, VQA or retrieval head'),
  );
}

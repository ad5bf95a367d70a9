import type { BlipTextConfig } from '../config.js';
import { GraphBuilder, type Value } from '../onnx/graph.js';
import { dimension, squeezeToScalar } from '../onnx/ops.js';
import type { BuildContext } from './context.js';
import { bertLayer, causalMask, type CrossAttentionSource, type KeyValue, lmHead, projectKeyValueHeads, textEmbeddings, textHeadShape } from './text.js';

/**
 * The text decoder (`BlipTextLMHeadModel`) as a decoder step graph: new token ids + self-attention
 * cache + what the decoder cross-attends to -> logits + the new positions' self-attention keys/values.
 * The first step may feed the whole prompt with an empty cache (past length 0). The self-attention
 * cache is sequence-major, `[length, batch, hidden]`: the caller keeps it in one preallocated buffer,
 * feeds the filled prefix as `past_*` (a view, no copy) and lets onnxruntime write `new_*` straight
 * after it, so the cache is never re-copied between steps.
 *
 * What the step cross-attends to comes in one of two forms, chosen per model by what is cheaper:
 * - `states` (captioning): the image states and their transpose, `[batch, image_seq, width]` and
 *   `[batch, width, image_seq]`, with the key/value projections folded into the attention
 *   (`statesAttention`). An image's 577 states would otherwise become 42.5 MiB of keys/values at
 *   BLIP-base, computed once per image (~100 ms int8) and read twice per generated token.
 * - `keyValues` (VQA, whose decoder attends to a few question states): each layer's keys/values,
 *   `[batch, heads, seq, headDim]`, computed once per question by the cross key/value graph.
 */

export const TEXT_DECODER_PREFIX = 'text_decoder';

export const CROSS_KEY_VALUE_GRAPH = { name: 'text_cross_key_value', input: 'encoder_hidden_states' } as const;
export const DECODER_STEP_GRAPH = {
  name: 'text_decoder_step',
  inputIds: 'input_ids',
  logits: 'logits',
  encoderStates: 'encoder_hidden_states',
  encoderStatesTransposed: 'encoder_hidden_states_transposed',
} as const;

/** What the decoder step cross-attends to (see above). */
export type CrossAttentionInput = 'states' | 'keyValues';

export const crossKeyName = (layer: number): string => `cross_key.${layer}`;
export const crossValueName = (layer: number): string => `cross_value.${layer}`;
export const pastKeyName = (layer: number): string => `past_key.${layer}`;
export const pastValueName = (layer: number): string => `past_value.${layer}`;
export const newKeyName = (layer: number): string => `new_key.${layer}`;
export const newValueName = (layer: number): string => `new_value.${layer}`;

const layerPrefix = (prefix: string, layer: number): string => `${prefix}.bert.encoder.layer.${layer}`;

/** `encoder_hidden_states [batch, image_seq, encoder_hidden_size]` -> `cross_key.i`, `cross_value.i`. */
export function buildCrossKeyValueGraph(context: Omit<BuildContext, 'g'>, config: BlipTextConfig, prefix = TEXT_DECODER_PREFIX): GraphBuilder {
  const g = new GraphBuilder(CROSS_KEY_VALUE_GRAPH.name);
  const ctx = { ...context, g };
  const shape = textHeadShape(config);
  const states = g.input(CROSS_KEY_VALUE_GRAPH.input, 'float32', ['batch', 'image_sequence', config.encoder_hidden_size]);
  const dims = ['batch', shape.heads, 'image_sequence', shape.headDim];
  for (let layer = 0; layer < config.num_hidden_layers; layer += 1) {
    const crossPrefix = `${layerPrefix(prefix, layer)}.crossattention.self`;
    const { key, value } = g.within(crossPrefix, () => projectKeyValueHeads(ctx, states, crossPrefix, shape));
    g.output(key, crossKeyName(layer), 'float32', dims);
    g.output(value, crossValueName(layer), 'float32', dims);
  }
  return g;
}

/** One decoding step over `input_ids [batch, sequence]` with `past_sequence` cached positions. */
export function buildDecoderStepGraph(
  context: Omit<BuildContext, 'g'>,
  config: BlipTextConfig,
  cross: CrossAttentionInput,
  prefix = TEXT_DECODER_PREFIX,
): GraphBuilder {
  const g = new GraphBuilder(DECODER_STEP_GRAPH.name);
  const ctx = { ...context, g };
  const shape = textHeadShape(config);
  const inputIds = g.input(DECODER_STEP_GRAPH.inputIds, 'int64', ['batch', 'sequence']);
  const states =
    cross === 'states'
      ? {
          states: g.input(DECODER_STEP_GRAPH.encoderStates, 'float32', ['batch', 'image_sequence', config.encoder_hidden_size]),
          transposed: g.input(DECODER_STEP_GRAPH.encoderStatesTransposed, 'float32', ['batch', config.encoder_hidden_size, 'image_sequence']),
        }
      : undefined;
  const caches: { past: KeyValue; cross: CrossAttentionSource }[] = [];
  for (let layer = 0; layer < config.num_hidden_layers; layer += 1) {
    const pastDims = ['past_sequence', 'batch', config.hidden_size];
    const crossDims = ['batch', shape.heads, 'image_sequence', shape.headDim];
    caches.push({
      past: { key: g.input(pastKeyName(layer), 'float32', pastDims), value: g.input(pastValueName(layer), 'float32', pastDims) },
      cross: states
        ? { states }
        : { keyValue: { key: g.input(crossKeyName(layer), 'float32', crossDims), value: g.input(crossValueName(layer), 'float32', crossDims) } },
    });
  }
  const firstPast = caches[0]?.past.key;
  if (!firstPast) throw new Error('text decoder without layers');
  const pastLength = squeezeToScalar(g, dimension(g, firstPast, 0));

  const { embeddings, sequenceLength } = g.within(`${prefix}.bert.embeddings`, () =>
    textEmbeddings(ctx, inputIds, `${prefix}.bert.embeddings`, config, pastLength),
  );
  const mask = causalMask(g, sequenceLength, pastLength);
  let hidden: Value = embeddings;
  caches.forEach(({ past, cross }, layer) => {
    const result = g.within(layerPrefix(prefix, layer), () =>
      bertLayer(ctx, hidden, {
        prefix: layerPrefix(prefix, layer),
        config,
        selfAttentionMask: mask,
        past,
        crossAttention: cross,
      }),
    );
    hidden = result.hidden;
    const newDims = ['sequence', 'batch', config.hidden_size];
    g.output(result.fresh.key, newKeyName(layer), 'float32', newDims);
    g.output(result.fresh.value, newValueName(layer), 'float32', newDims);
  });
  const logits = g.within(`${prefix}.cls`, () => lmHead(ctx, hidden, prefix, config));
  g.output(logits, DECODER_STEP_GRAPH.logits, 'float32', ['batch', 'sequence', config.vocab_size]);
  return g;
}

// What a caption costs the machine at the least, from the model itself: operation counts from the
// checkpoint's config.json, and the bytes a decoder step reads from the compiled step graph.
import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { type BlipTextConfig, type BlipVisionConfig, visionSequenceLength } from '../blip/config.js';

const { onnx } = onnxProto;

/**
 * Operations (a multiply-add counts two), split by the kernel that can run them: `linear` are the
 * linear layers (int8 in int8 graphs), `float` the products that stay float32 in every precision
 * (attention over image states and over the cache, the patch embedding).
 */
export interface Operations {
  linear: number;
  float: number;
}

export const addOperations = (a: Operations, b: Operations): Operations => ({ linear: a.linear + b.linear, float: a.float + b.float });
export const scaleOperations = (a: Operations, by: number): Operations => ({ linear: a.linear * by, float: a.float * by });

/** One image through the vision encoder: patch embedding, and per layer the projections, the MLP and attention. */
export function visionOperations(vision: BlipVisionConfig): Operations {
  const tokens = visionSequenceLength(vision);
  const width = vision.hidden_size;
  const patches = tokens - 1;
  const perLayerLinear = tokens * (4 * width * width + 2 * width * vision.intermediate_size);
  const perLayerAttention = 2 * tokens * tokens * width; // scores and their mixing of the values
  return {
    linear: 2 * vision.num_hidden_layers * perLayerLinear,
    float: 2 * (patches * 3 * vision.patch_size ** 2 * width + vision.num_hidden_layers * perLayerAttention),
  };
}

/**
 * One decoder step for one row at cache length `positions` (this token included), as the captioning
 * step computes it: self-attention (query, key, value, output), cross-attention with the key/value
 * projections folded per head (query, per-head key and value, output; the two products with the
 * image states), the MLP, and the LM head (transform and vocabulary projection).
 */
export function decoderStepOperations(text: BlipTextConfig, imageTokens: number, positions: number): Operations {
  const h = text.hidden_size;
  const w = text.encoder_hidden_size;
  const perLayerLinear = 4 * h * h + (h * h + h * w + w * h + h * h) + 2 * h * text.intermediate_size;
  const perLayerFloat = 2 * imageTokens * w * text.num_attention_heads + 2 * positions * h;
  return {
    linear: 2 * (text.num_hidden_layers * perLayerLinear + h * h + h * text.vocab_size),
    float: 2 * text.num_hidden_layers * perLayerFloat,
  };
}

/** Bytes one row adds to a decoder step's reads: its image states and their transpose, and its self-attention cache. */
export function decoderRowBytes(text: BlipTextConfig, imageTokens: number, positions: number): number {
  const float = Float32Array.BYTES_PER_ELEMENT;
  return 2 * imageTokens * text.encoder_hidden_size * float + 2 * text.num_hidden_layers * positions * text.hidden_size * float;
}

/**
 * Bytes of the initializers an ONNX graph reads whole on every run: all of them except those only
 * ever read through a Gather's data input (embedding tables: one row per token). Inline and external
 * data alike; `file` is the `.onnx` (external data is sized from its `length` entries).
 */
export function graphWeightBytes(file: string): number {
  return wholeReadInitializers(file).reduce((bytes, { tensor }) => bytes + tensorBytes(tensor), 0);
}

/** A node's weights: the initializers it reads whole, named after the largest. */
export interface NodeWeights {
  /** the largest initializer's name */
  name: string;
  /** its dimensions */
  dims: number[];
  /** all the node's initializers read whole, in bytes */
  bytes: number;
}

/** Per node name of `file`'s graph, the initializers it reads whole (see `graphWeightBytes`); nodes with none are absent. */
export function nodeWeights(file: string): Map<string, NodeWeights> {
  const byNode = new Map<string, NodeWeights & { largest: number }>();
  for (const { tensor, readers } of wholeReadInitializers(file)) {
    const bytes = tensorBytes(tensor);
    for (const node of readers) {
      const entry = byNode.get(node) ?? { name: '', dims: [], bytes: 0, largest: -1 };
      entry.bytes += bytes;
      if (bytes > entry.largest) Object.assign(entry, { name: tensor.name ?? '', dims: (tensor.dims ?? []).map(Number), largest: bytes });
      byNode.set(node, entry);
    }
  }
  return new Map([...byNode].map(([node, { name, dims, bytes }]) => [node, { name, dims, bytes }]));
}

/** The initializers a graph reads whole on every run, each with the names of the nodes that do. */
function wholeReadInitializers(file: string): { tensor: onnxProto.onnx.ITensorProto; readers: string[] }[] {
  const model = onnx.ModelProto.decode(readFileSync(file));
  const graph = model.graph;
  if (!graph) throw new Error(`${file}: no graph`);
  const gatheredOnly = new Set<string>();
  const readWhole = new Map<string, string[]>();
  for (const node of graph.node ?? []) {
    (node.input ?? []).forEach((input, index) => {
      if (node.opType === 'Gather' && index === 0) gatheredOnly.add(input);
      else readWhole.set(input, [...(readWhole.get(input) ?? []), node.name ?? '']);
    });
  }
  return (graph.initializer ?? []).flatMap((tensor) => {
    const readers = readWhole.get(tensor.name ?? '');
    return readers || !gatheredOnly.has(tensor.name ?? '') ? [{ tensor, readers: readers ?? [] }] : [];
  });
}

function tensorBytes(tensor: onnxProto.onnx.ITensorProto): number {
  if (tensor.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    const length = tensor.externalData?.find((entry) => entry.key === 'length')?.value;
    if (length === undefined || length === null) throw new Error(`initializer ${tensor.name}: external data without a length`);
    return Number(length);
  }
  if (tensor.rawData && tensor.rawData.length) return tensor.rawData.length;
  const elements = (tensor.dims ?? []).reduce<number>((n, d) => n * Number(d), 1);
  const width = ELEMENT_BYTES[tensor.dataType ?? 0];
  if (width === undefined) throw new Error(`initializer ${tensor.name}: element type ${tensor.dataType} has no known size`);
  return elements * width;
}

const T = onnx.TensorProto.DataType;
const ELEMENT_BYTES: Record<number, number> = {
  [T.FLOAT]: 4, [T.UINT8]: 1, [T.INT8]: 1, [T.UINT16]: 2, [T.INT16]: 2, [T.INT32]: 4, [T.INT64]: 8,
  [T.BOOL]: 1, [T.FLOAT16]: 2, [T.DOUBLE]: 8, [T.UINT32]: 4, [T.UINT64]: 8, [T.BFLOAT16]: 2,
};

/** One caption's work: the vision encoder, then `tokens` greedy steps for one row each. */
export interface CaptionCosts {
  vision: Operations;
  /** step s (0-based) runs at cache length s + 1 */
  steps: { operations: Operations; rowBytes: number }[];
  /** what every decoder step reads whole, whatever its rows (graphWeightBytes of the step graph) */
  stepWeightBytes: number;
}

export function captionCosts(config: { vision_config: BlipVisionConfig; text_config: BlipTextConfig }, stepWeightBytes: number, tokens: number): CaptionCosts {
  const imageTokens = visionSequenceLength(config.vision_config);
  return {
    vision: visionOperations(config.vision_config),
    steps: Array.from({ length: tokens }, (_, s) => ({
      operations: decoderStepOperations(config.text_config, imageTokens, s + 1),
      rowBytes: decoderRowBytes(config.text_config, imageTokens, s + 1),
    })),
    stepWeightBytes,
  };
}

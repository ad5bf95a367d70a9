import * as ort from 'onnxruntime-node';
import { beamSearch, beamSearchHypotheses, type Hypothesis } from '../generation/beam-search.js';
import { greedySearch } from '../generation/greedy.js';
import type { GenerationSettings } from '../generation/types.js';
import { CROSS_KEY_VALUE_GRAPH, DECODER_STEP_GRAPH, crossKeyName, crossValueName } from '../modeling/text-decoder.js';
import { concatFloat32, transposeInto } from '../matrix.js';
import { VISION_GRAPH } from '../modeling/vision.js';
import { DecoderState } from './decoder-state.js';
import type { BlipRuntime } from './index.js';
import { runSession } from './sessions.js';

/**
 * `BlipForConditionalGeneration.generate`: vision encoder over the batch of images, then greedy or
 * beam search over the cached decoder step cross-attending to each image's states.
 */

export interface CaptionRequest extends Omit<GenerationSettings, 'eosTokenId' | 'padTokenId'> {
  readonly beams: number;
  /** Also return this many finished beams per image, best first (`num_return_sequences`; at most `beams`). */
  readonly candidates?: number;
}

export interface CaptionBatchResult {
  readonly tokenIds: number[][];
  /** With `candidates`: each image's best finished beams and their scores (`sequences_scores`). */
  readonly candidates?: Hypothesis[][];
  readonly timingsMs: { vision: number; decode: number };
}

/** Stacks `[1, 3, S, S]` pixel arrays into one `[N, 3, S, S]` tensor. */
function stackImages(images: readonly Float32Array[], imageSize: number): ort.Tensor {
  const size = 3 * imageSize * imageSize;
  const data = new Float32Array(images.length * size);
  images.forEach((image, index) => data.set(image, index * size));
  return new ort.Tensor('float32', data, [images.length, 3, imageSize, imageSize]);
}

/**
 * Images the vision encoder runs at once. Its matrix products already span 577 tokens per image, so
 * larger batches gain no speed but multiply the activation memory onnxruntime's arena keeps
 * (about 120 MiB per image at BLIP-base): batches of images are encoded one at a time.
 */
export const VISION_BATCH = 1;

/** Vision states `[images, seq, hidden]` of a batch of preprocessed images. */
export async function encodeImages(runtime: BlipRuntime, images: readonly Float32Array[]): Promise<ort.Tensor> {
  const session = runtime.session(VISION_GRAPH.name);
  const imageSize = runtime.config.vision_config.image_size;
  const parts: ort.Tensor[] = [];
  for (let first = 0; first < images.length; first += VISION_BATCH) {
    const pixels = stackImages(images.slice(first, first + VISION_BATCH), imageSize);
    const outputs = await runSession(session, { [VISION_GRAPH.input]: pixels }, 'vision encoder');
    parts.push(outputs[VISION_GRAPH.output] as ort.Tensor);
  }
  if (parts.length === 1) return parts[0] as ort.Tensor;
  const [, sequence = 0, hidden = 0] = parts[0]?.dims ?? [];
  return new ort.Tensor('float32', concatFloat32(parts.map((part) => part.data as Float32Array)), [images.length, sequence, hidden]);
}

/**
 * Generates from `[DEC]` (+ prompt) for each row of `encoderStates [rows, seq, encoder_hidden_size]`,
 * cross-attending to it through the `text_decoder` step graph.
 */
export async function decodeFromStates(runtime: BlipRuntime, encoderStates: ort.Tensor, request: CaptionRequest): Promise<number[][]> {
  const { decoder, rows, settings, release } = await openDecoder(runtime, encoderStates, request);
  try {
    return await (request.beams > 1 ? beamSearch(decoder, rows, settings) : greedySearch(decoder, rows, settings));
  } finally {
    release();
  }
}

/** Beam search from `encoderStates` keeping every row's finished hypotheses (best first) with their scores. */
export async function decodeHypotheses(runtime: BlipRuntime, encoderStates: ort.Tensor, request: CaptionRequest): Promise<Hypothesis[][]> {
  const { decoder, rows, settings, release } = await openDecoder(runtime, encoderStates, request);
  try {
    return await beamSearchHypotheses(decoder, rows, settings);
  } finally {
    release();
  }
}

/**
 * The decoder over `encoderStates` and the search settings of `request`; call `release` when the
 * search is done.
 */
export async function openDecoder(runtime: BlipRuntime, encoderStates: ort.Tensor, request: CaptionRequest) {
  const text = runtime.config.text_config;
  const images = encoderStates.dims[0] ?? 0;
  const rowImages = Array.from({ length: images * request.beams }, (_, row) => Math.floor(row / request.beams));
  const session = runtime.session(DECODER_STEP_GRAPH.name);
  const cross = session.inputNames.includes(DECODER_STEP_GRAPH.encoderStates)
    ? { tensors: encoderStateInputs(encoderStates, request.beams), release: () => {} }
    : await crossKeyValues(runtime, encoderStates, request.beams);
  const decoder = new DecoderState(session, {
    layers: text.num_hidden_layers,
    hidden: text.hidden_size,
    vocabSize: text.vocab_size,
    crossInputs: cross.tensors,
    rowImages,
    capacity: request.prompt.length + request.maxNewTokens,
  });
  const settings = { ...request, eosTokenId: text.sep_token_id, padTokenId: text.pad_token_id };
  return { decoder, rows: images, settings, release: cross.release };
}

/**
 * The step graph's `states` inputs for every decoder row: each image's states `[rows, seq, width]`,
 * repeated for its further rows (beams), and the same transposed, `[rows, width, seq]`.
 */
export function encoderStateInputs(encoderStates: ort.Tensor, rowsPerImage: number): Record<string, ort.Tensor> {
  const [images = 0, sequence = 0, width = 0] = encoderStates.dims;
  const states = encoderStates.data as Float32Array;
  const block = sequence * width;
  const rows = images * rowsPerImage;
  const repeated = rowsPerImage === 1 ? states : new Float32Array(rows * block);
  const transposed = new Float32Array(rows * block);
  for (let image = 0; image < images; image += 1) {
    const source = states.subarray(image * block, (image + 1) * block);
    const first = image * rowsPerImage;
    transposeInto(source, sequence, width, transposed.subarray(first * block, (first + 1) * block));
    for (let row = first; row < first + rowsPerImage; row += 1) {
      if (repeated !== states) repeated.set(source, row * block);
      if (row !== first) transposed.copyWithin(row * block, first * block, (first + 1) * block);
    }
  }
  return {
    [DECODER_STEP_GRAPH.encoderStates]: new ort.Tensor('float32', repeated, [rows, sequence, width]),
    [DECODER_STEP_GRAPH.encoderStatesTransposed]: new ort.Tensor('float32', transposed, [rows, width, sequence]),
  };
}

/**
 * The step graph's `keyValues` inputs: each layer's cross-attention keys/values for every decoder
 * row, `[images * rowsPerImage, heads, seq, headDim]`. The graph runs one image at a time and writes
 * straight into the batch's buffers (preallocated outputs), so onnxruntime's arena never holds a
 * whole batch of them; an image's further rows (beams) are copies of its first. onnxruntime-node 1.30
 * still returns a copy of every output, which is dropped here and left to the garbage collector
 * (microsoft/onnxruntime#32346).
 */
async function crossKeyValues(
  runtime: BlipRuntime,
  encoderStates: ort.Tensor,
  rowsPerImage: number,
): Promise<{ tensors: Record<string, ort.Tensor>; release: () => void }> {
  const text = runtime.config.text_config;
  const heads = text.num_attention_heads;
  const headDim = text.hidden_size / heads;
  const [images = 0, sequence = 0, width = 0] = encoderStates.dims;
  const states = encoderStates.data as Float32Array;
  const block = heads * sequence * headDim;
  const rows = images * rowsPerImage;
  const names = Array.from({ length: text.num_hidden_layers }, (_, layer) => [crossKeyName(layer), crossValueName(layer)]).flat();
  const buffers = runtime.crossKeyValueBuffers.acquire(rows * block);
  const session = runtime.session(CROSS_KEY_VALUE_GRAPH.name);
  for (let image = 0; image < images; image += 1) {
    const first = image * rowsPerImage;
    const imageStates = new ort.Tensor('float32', states.subarray(image * sequence * width, (image + 1) * sequence * width), [1, sequence, width]);
    const fetches = Object.fromEntries(
      names.map((name, n) => [name, new ort.Tensor('float32', (buffers[n] as Float32Array).subarray(first * block, (first + 1) * block), [1, heads, sequence, headDim])]),
    );
    await runSession(session, { [CROSS_KEY_VALUE_GRAPH.input]: imageStates }, 'cross-attention keys/values', fetches);
    for (const buffer of buffers) {
      for (let row = first + 1; row < first + rowsPerImage; row += 1) buffer.copyWithin(row * block, first * block, (first + 1) * block);
    }
  }
  const tensors = Object.fromEntries(names.map((name, n) => [name, new ort.Tensor('float32', buffers[n] as Float32Array, [rows, heads, sequence, headDim])]));
  return { tensors, release: () => runtime.crossKeyValueBuffers.release(buffers) };
}

export async function generateCaptions(
  runtime: BlipRuntime,
  images: readonly Float32Array[],
  request: CaptionRequest,
): Promise<CaptionBatchResult> {
  const perBatch = runtime.imagesPerDecode(request.beams);
  const tokenIds: number[][] = [];
  const candidates: Hypothesis[][] = [];
  const timingsMs = { vision: 0, decode: 0 };
  for (let first = 0; first < images.length; first += perBatch) {
    const visionStarted = performance.now();
    const states = await encodeImages(runtime, images.slice(first, first + perBatch));
    const decodeStarted = performance.now();
    if (request.candidates) {
      const hypotheses = await decodeHypotheses(runtime, states, request);
      tokenIds.push(...hypotheses.map((finished) => [...(finished[0] as Hypothesis).tokens]));
      candidates.push(...hypotheses.map((finished) => finished.slice(0, request.candidates)));
    } else {
      tokenIds.push(...(await decodeFromStates(runtime, states, request)));
    }
    timingsMs.vision += decodeStarted - visionStarted;
    timingsMs.decode += performance.now() - decodeStarted;
  }
  return request.candidates ? { tokenIds, candidates, timingsMs } : { tokenIds, timingsMs };
}

import * as ort from 'onnxruntime-node';
import {
  DECODER_STEP_GRAPH,
  crossKeyName,
  crossValueName,
  pastKeyName,
  pastValueName,
  presentKeyName,
  presentValueName,
} from '../modeling/text-decoder.js';
import type { StepModel } from '../generation/types.js';
import { runSession } from './sessions.js';

/**
 * The decoding state of one batch of rows: the cross-attention keys/values of each row's image and the
 * growing self-attention cache. Implements the search algorithms' `StepModel`.
 */
export class DecoderState implements StepModel {
  private cache: Record<string, ort.Tensor>;

  /**
   * @param crossKeyValues cross_key.N / cross_value.N for the images, `[images, heads, seq, headDim]`
   * @param rowsPerImage rows decoding each image (the beam count); rows of an image are adjacent
   */
  constructor(
    private readonly session: ort.InferenceSession,
    private readonly layers: number,
    readonly vocabSize: number,
    crossKeyValues: Record<string, ort.Tensor>,
    rowsPerImage: number,
  ) {
    const cross: Record<string, ort.Tensor> = {};
    let first: ort.Tensor | undefined;
    for (let layer = 0; layer < layers; layer += 1) {
      for (const name of [crossKeyName(layer), crossValueName(layer)]) {
        const tensor = crossKeyValues[name];
        if (!tensor) throw new Error(`missing ${name}`);
        first ??= tensor;
        cross[name] = rowsPerImage === 1 ? tensor : repeatRows(tensor, rowsPerImage);
      }
    }
    const [images = 0, heads = 0, , headDim = 0] = first?.dims ?? [];
    const rows = images * rowsPerImage;
    this.cache = { ...cross };
    for (let layer = 0; layer < layers; layer += 1) {
      for (const name of [pastKeyName(layer), pastValueName(layer)]) {
        this.cache[name] = new ort.Tensor('float32', new Float32Array(0), [rows, heads, 0, headDim]);
      }
    }
  }

  async step(tokens: readonly (readonly number[])[]): Promise<Float32Array> {
    const length = tokens[0]?.length ?? 0;
    const ids = BigInt64Array.from(tokens.flat(), (token) => BigInt(token));
    const outputs = await runSession(
      this.session,
      { ...this.cache, [DECODER_STEP_GRAPH.inputIds]: new ort.Tensor('int64', ids, [tokens.length, length]) },
      'decoder step',
    );
    for (let layer = 0; layer < this.layers; layer += 1) {
      this.cache[pastKeyName(layer)] = outputs[presentKeyName(layer)] as ort.Tensor;
      this.cache[pastValueName(layer)] = outputs[presentValueName(layer)] as ort.Tensor;
    }
    const logits = (outputs[DECODER_STEP_GRAPH.logits] as ort.Tensor).data as Float32Array;
    if (length === 1) return logits;
    const last = new Float32Array(tokens.length * this.vocabSize);
    for (let row = 0; row < tokens.length; row += 1) {
      const start = (row * length + length - 1) * this.vocabSize;
      last.set(logits.subarray(start, start + this.vocabSize), row * this.vocabSize);
    }
    return last;
  }

  reorder(sources: readonly number[]): void {
    if (sources.every((source, row) => source === row)) return;
    for (let layer = 0; layer < this.layers; layer += 1) {
      for (const name of [pastKeyName(layer), pastValueName(layer)]) {
        this.cache[name] = gatherRows(this.cache[name] as ort.Tensor, sources);
      }
    }
  }
}

/** Rows `sources[i]` of a `[rows, ...]` float tensor, in that order. */
function gatherRows(tensor: ort.Tensor, sources: readonly number[]): ort.Tensor {
  const data = tensor.data as Float32Array;
  const rowSize = data.length / (tensor.dims[0] ?? 1);
  const out = new Float32Array(sources.length * rowSize);
  sources.forEach((source, row) => out.set(data.subarray(source * rowSize, (source + 1) * rowSize), row * rowSize));
  return new ort.Tensor('float32', out, [sources.length, ...tensor.dims.slice(1)]);
}

/** Each row repeated `times` times in place (`repeat_interleave` on the batch axis). */
function repeatRows(tensor: ort.Tensor, times: number): ort.Tensor {
  const rows = tensor.dims[0] ?? 0;
  return gatherRows(
    tensor,
    Array.from({ length: rows * times }, (_, i) => Math.floor(i / times)),
  );
}

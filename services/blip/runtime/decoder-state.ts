import * as ort from 'onnxruntime-node';
import { DECODER_STEP_GRAPH, newKeyName, newValueName, pastKeyName, pastValueName } from '../modeling/text-decoder.js';
import type { StepModel } from '../generation/types.js';
import { runSession } from './sessions.js';

export interface DecoderStateOptions {
  readonly layers: number;
  readonly hidden: number;
  readonly vocabSize: number;
  /**
   * What the step graph cross-attends to, one entry per row along the first axis: the encoder states
   * and their transpose, or each layer's `cross_key.N` / `cross_value.N` (see `text-decoder.ts`).
   */
  readonly crossInputs: Record<string, ort.Tensor>;
  /** The image (encoder state) each row decodes; rows of an image are adjacent. */
  readonly rowImages: readonly number[];
  /** Positions to make room for up front (prompt + new tokens); the cache grows if a search needs more. */
  readonly capacity: number;
}

/**
 * The decoding state of one batch of rows: what each row cross-attends to (its image's states, or its
 * question's keys/values) and the growing self-attention cache. Implements the search algorithms'
 * `StepModel`.
 *
 * The self-attention cache of each layer lives in one buffer, sequence-major `[position, row, hidden]`
 * and sized for the whole generation up front. A step feeds the filled prefix as `past_*` (a view of
 * the buffer, not a copy) and hands onnxruntime the views right after it as preallocated `new_*`
 * outputs, so the new positions are written in place and nothing is concatenated or copied back.
 * Only `reorder` (beam search, or dropping finished rows) moves cached rows.
 */
export class DecoderState implements StepModel {
  readonly vocabSize: number;
  private readonly layers: number;
  private readonly hidden: number;
  private readonly cross: Map<string, ort.Tensor>;
  /** Per layer, the key cache then the value cache: `[capacity, rows, hidden]` each. */
  private caches: Float32Array[];
  private rowImages: readonly number[];
  private length = 0;

  constructor(
    private readonly session: ort.InferenceSession,
    options: DecoderStateOptions,
  ) {
    this.vocabSize = options.vocabSize;
    this.layers = options.layers;
    this.hidden = options.hidden;
    this.rowImages = options.rowImages;
    this.cross = new Map(Object.entries(options.crossInputs));
    for (const [name, tensor] of this.cross) {
      if (tensor.dims[0] !== this.rows) throw new Error(`${name} has ${tensor.dims[0]} rows, not ${this.rows}`);
    }
    const size = Math.max(1, options.capacity) * this.rowSize;
    this.caches = Array.from({ length: 2 * this.layers }, () => new Float32Array(size));
  }

  private get rows(): number {
    return this.rowImages.length;
  }

  /** Floats per cached position: every row's hidden vector. */
  private get rowSize(): number {
    return this.rows * this.hidden;
  }

  async step(tokens: readonly (readonly number[])[]): Promise<Float32Array> {
    if (tokens.length !== this.rows) throw new Error(`step over ${tokens.length} rows, the state has ${this.rows}`);
    const length = tokens[0]?.length ?? 0;
    this.reserve(this.length + length);
    const ids = BigInt64Array.from(tokens.flat(), (token) => BigInt(token));
    const feeds: Record<string, ort.Tensor> = { [DECODER_STEP_GRAPH.inputIds]: new ort.Tensor('int64', ids, [this.rows, length]) };
    const fetches: Record<string, ort.Tensor | null> = { [DECODER_STEP_GRAPH.logits]: null };
    for (const [name, tensor] of this.cross) feeds[name] = tensor;
    const filled = this.length * this.rowSize;
    const added = length * this.rowSize;
    for (let layer = 0; layer < this.layers; layer += 1) {
      const names = [
        [pastKeyName(layer), newKeyName(layer)],
        [pastValueName(layer), newValueName(layer)],
      ] as const;
      names.forEach(([past, fresh], kind) => {
        const cache = this.caches[2 * layer + kind] as Float32Array;
        feeds[past] = new ort.Tensor('float32', cache.subarray(0, filled), [this.length, this.rows, this.hidden]);
        fetches[fresh] = new ort.Tensor('float32', cache.subarray(filled, filled + added), [length, this.rows, this.hidden]);
      });
    }
    const outputs = await runSession(this.session, feeds, 'decoder step', fetches);
    this.length += length;
    const logits = (outputs[DECODER_STEP_GRAPH.logits] as ort.Tensor).data as Float32Array;
    if (length === 1) return logits;
    const last = new Float32Array(this.rows * this.vocabSize);
    for (let row = 0; row < this.rows; row += 1) {
      const start = (row * length + length - 1) * this.vocabSize;
      last.set(logits.subarray(start, start + this.vocabSize), row * this.vocabSize);
    }
    return last;
  }

  /**
   * Row `i` continues from what row `sources[i]` has seen; fewer sources than rows drops the others
   * (finished rows in a batch). Cross-attention inputs move only when a row changes image.
   */
  reorder(sources: readonly number[]): void {
    if (sources.length === this.rows && sources.every((source, row) => source === row)) return;
    const rows = this.rows;
    this.caches = this.caches.map((cache) => gatherRows(cache, this.length, rows, this.hidden, sources, cache.length));
    const rowImages = sources.map((source) => this.rowImages[source] as number);
    if (rowImages.length !== rows || rowImages.some((image, row) => image !== this.rowImages[row])) {
      for (const [name, tensor] of this.cross) {
        const [, ...rest] = tensor.dims;
        const data = tensor.data as Float32Array;
        const block = data.length / rows;
        const gathered = gatherRows(data, 1, rows, block, sources, sources.length * block);
        this.cross.set(name, new ort.Tensor('float32', gathered.subarray(0, sources.length * block), [sources.length, ...rest]));
      }
    }
    this.rowImages = rowImages;
  }

  /** Makes room for `positions` cached positions, doubling the buffers when they are full. */
  private reserve(positions: number): void {
    const needed = positions * this.rowSize;
    if (needed <= (this.caches[0]?.length ?? 0)) return;
    const size = Math.max(needed, 2 * (this.caches[0]?.length ?? 0));
    this.caches = this.caches.map((cache) => {
      const grown = new Float32Array(size);
      grown.set(cache.subarray(0, this.length * this.rowSize));
      return grown;
    });
  }
}

/**
 * Rows `sources[i]` of `data` laid out `[positions, rows, width]`, as `[positions, sources.length, width]`.
 * Strictly ascending sources (rows dropped, order kept) compact in place; otherwise a new buffer of
 * `size` floats is filled.
 */
function gatherRows(data: Float32Array, positions: number, rows: number, width: number, sources: readonly number[], size: number): Float32Array {
  const inPlace = sources.every((source, i) => i === 0 || source > (sources[i - 1] as number));
  const out = inPlace ? data : new Float32Array(size);
  for (let position = 0; position < positions; position += 1) {
    sources.forEach((source, row) => {
      const from = (position * rows + source) * width;
      const to = (position * sources.length + row) * width;
      if (inPlace) out.copyWithin(to, from, from + width);
      else out.set(data.subarray(from, from + width), to);
    });
  }
  return out;
}

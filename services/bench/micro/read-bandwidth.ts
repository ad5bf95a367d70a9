// Memory read bandwidth as ONNX Runtime sees it: a large float32 buffer streamed through ReduceSum,
// which does one addition per element read, with the benchmark's session settings and threads.
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { sessionOptions } from '../../blip/runtime/sessions.js';
import { median } from '../stats.js';

const { onnx } = onnxProto;

/** Buffers below this would partly stay in a large last-level cache. */
export const MIN_READ_BYTES = 256 * 2 ** 20;
/** Bytes per row of the reduced matrix: enough rows for every thread, long runs of contiguous reads per row. */
const ROW_BYTES = 64 * 2 ** 10;

/** `x [rows, columns]` float32 -> `ReduceSum(x, axis 1)`, `[rows]`. */
export function buildRowSumGraph(rows: number, columns: number): Uint8Array {
  const F = onnx.TensorProto.DataType.FLOAT;
  const model: onnxProto.onnx.IModelProto = {
    irVersion: 8,
    producerName: 'blipline-bench',
    opsetImport: [{ domain: '', version: 18 }],
    graph: {
      name: 'read_bandwidth',
      node: [{
        opType: 'ReduceSum', name: 'sum', input: ['x', 'axes'], output: ['y'],
        attribute: [{ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 }],
      }],
      initializer: [{ name: 'axes', dataType: onnx.TensorProto.DataType.INT64, dims: [1], int64Data: [1] }],
      input: [{ name: 'x', type: { tensorType: { elemType: F, shape: { dim: [{ dimValue: rows }, { dimValue: columns }] } } } }],
      output: [{ name: 'y', type: { tensorType: { elemType: F, shape: { dim: [{ dimValue: rows }] } } } }],
    },
  };
  return onnx.ModelProto.encode(model).finish();
}

export interface ReadBandwidthOptions {
  threads: number;
  runs: number;
  /** at least MIN_READ_BYTES */
  bytes?: number;
}

/**
 * Median GB/s (1e9 bytes per second) of reading `bytes` once per run. The buffer is written first:
 * pages never written all map the kernel's one zero page, which would be read from cache.
 */
export async function measureReadBandwidth(options: ReadBandwidthOptions): Promise<{ gbps: number; bytes: number }> {
  const columns = ROW_BYTES / Float32Array.BYTES_PER_ELEMENT;
  const rows = Math.ceil(Math.max(options.bytes ?? MIN_READ_BYTES, MIN_READ_BYTES) / ROW_BYTES);
  const data = new Float32Array(rows * columns).fill(1);
  const session = await ort.InferenceSession.create(buildRowSumGraph(rows, columns), { ...sessionOptions({ threads: options.threads }), logSeverityLevel: 3 });
  try {
    const feeds = { x: new ort.Tensor('float32', data, [rows, columns]) };
    const first = (await session.run(feeds)).y!.data as Float32Array;
    if (first[0] !== columns) throw new Error(`read-bandwidth kernel summed ${first[0]} instead of ${columns}`);
    const samples: number[] = [];
    for (let i = 0; i < options.runs; i++) {
      const t0 = performance.now();
      await session.run(feeds);
      samples.push(performance.now() - t0);
    }
    return { gbps: data.byteLength / (median(samples) * 1e6), bytes: data.byteLength };
  } finally {
    await session.release();
  }
}

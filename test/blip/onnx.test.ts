import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder, linear, ops, tensor, writeModel } from '../../services/blip/onnx/index.js';

const scratch = await mkdtemp(path.join(os.tmpdir(), 'blipline-onnx-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

async function run(g: GraphBuilder, feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.ReturnType> {
  const file = path.join(scratch, `${g.name}.onnx`);
  await writeModel(g, file);
  const session = await ort.InferenceSession.create(file);
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

describe('ONNX graph builder', () => {
  it('emits linear layers in PyTorch weight layout, with large weights as external data', async () => {
    const g = new GraphBuilder('linear');
    const x = g.input('x', 'float32', ['batch', 3]);
    const inFeatures = 3;
    const outFeatures = 200; // 2400 bytes: stored as external data
    const weight = new Float32Array(outFeatures * inFeatures).map((_, i) => ((i % 7) - 3) / 4);
    const bias = new Float32Array(outFeatures).map((_, i) => (i % 5) / 10);
    const y = linear(g, x, { name: 'fc', weight: { shape: [outFeatures, inFeatures], data: weight }, bias: { shape: [outFeatures], data: bias } }, { precision: 'fp32' });
    g.output(ops.gelu(g, y), 'y', 'float32', ['batch', outFeatures]);

    const input = Float32Array.of(0.5, -1, 2, 1, 1, 1);
    const { y: out } = await run(g, { x: new ort.Tensor('float32', input, [2, 3]) });
    const data = out?.data as Float32Array;
    expect(out?.dims).toEqual([2, outFeatures]);
    for (const [row, column] of [[0, 0], [1, 199], [0, 57]] as const) {
      let z = bias[column] as number;
      for (let k = 0; k < inFeatures; k += 1) z += (input[row * 3 + k] as number) * (weight[column * inFeatures + k] as number);
      const exact = 0.5 * z * (1 + erf(z / Math.SQRT2));
      expect(data[row * outFeatures + column]).toBeCloseTo(exact, 4);
    }
    expect((await stat(path.join(scratch, 'linear.onnx.data'))).size).toBeGreaterThanOrEqual(outFeatures * inFeatures * 4);
    expect((await stat(path.join(scratch, 'linear.onnx'))).size).toBeLessThan(outFeatures * inFeatures * 4);
  });

  it('stores a weight given twice from the same memory once (tied LM head and word embeddings)', async () => {
    const g = new GraphBuilder('tied');
    const table = Float32Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1);
    const ids = g.input('ids', 'int64', [1]);
    const embedded = ops.gather(g, g.initializer('embeddings', tensor('float32', [4, 3], table)), ids);
    const tied = { name: 'head', weight: { shape: [4, 3], data: new Float32Array(table.buffer, 0, 12) } };
    g.output(linear(g, embedded, tied, { precision: 'fp32' }), 'logits', 'float32', [1, 4]);
    expect(g.initializers.map((initializer) => initializer.name)).toEqual(['embeddings']);
    const { logits } = await run(g, { ids: new ort.Tensor('int64', BigInt64Array.of(3n), [1]) });
    expect(Array.from(logits?.data as Float32Array)).toEqual([1, 1, 1, 3]);
  });

  it('names outputs, deduplicates constants and keeps node names unique within scopes', async () => {
    const g = new GraphBuilder('shapes');
    const x = g.input('x', 'float32', ['batch', 'seq', 4]);
    const first = g.within('layer.0', () => ops.reshape(g, x, [0, 0, 2, 2]));
    const second = g.within('layer.0', () => ops.reshape(g, first, [0, 0, 4]));
    expect(g.int64s([0, 0, 4])).toBe(g.int64s([0, 0, 4]));
    expect(new Set(g.nodes.map((node) => node.name)).size).toBe(g.nodes.length);
    g.output(ops.add(g, second, g.initializer('one', tensor('float32', [4], new Float32Array(4).fill(1)))), 'y', 'float32', ['batch', 'seq', 4]);
    const { y } = await run(g, { x: new ort.Tensor('float32', Float32Array.of(1, 2, 3, 4), [1, 1, 4]) });
    expect(Array.from(y?.data as Float32Array)).toEqual([2, 3, 4, 5]);
    expect(() => g.input('x', 'float32', [1])).toThrow(/duplicate/);
    expect(await readdir(scratch)).toContain('shapes.onnx');
  });
});

/** erf by its Maclaurin series (accurate for the small arguments of this test). */
function erf(x: number): number {
  let sum = 0;
  let term = x;
  for (let n = 0; n < 60; n += 1) {
    sum += term / (2 * n + 1);
    term *= (-x * x) / (n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

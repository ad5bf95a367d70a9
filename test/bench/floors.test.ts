import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { afterAll, describe, expect, it } from 'vitest';
import { blipTextConfigSchema, blipVisionConfigSchema } from '../../services/blip/config.js';
import {
  beatenFloors, bestLimits, computeMs, decodeBandwidthFloorMs, floors, limitsDrift, type MachineLimits, ratios, visionFloorMs,
} from '../../services/bench/floors.js';
import { visionCeilingCases } from '../../services/bench/machine.js';
import { buildRowSumGraph } from '../../services/bench/micro/read-bandwidth.js';
import {
  type CaptionCosts, captionCosts, decoderRowBytes, decoderStepOperations, graphWeightBytes, nodeWeights, visionOperations,
} from '../../services/bench/model-costs.js';
import { precisionReportSchema } from '../../services/bench/report.js';
import { summariseProfile } from '../../services/bench/step-profile.js';

// The floor and ratio arithmetic of `npm run bench` (docs/performance.md, "Method") on inputs small
// enough to check by hand, and the shape of its --json line.

const { onnx } = onnxProto;
const scratch = mkdtempSync(path.join(tmpdir(), 'blipline-floors-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// 1 GFLOP/s float32, 2 GOP/s int8, 1 GB/s: a million operations take 1 ms (0.5 ms int8), a million bytes 1 ms
const machine: MachineLimits = { fp32Gflops: 1, int8Gops: 2, readGBps: 1 };
const costs: CaptionCosts = {
  vision: { linear: 2e6, float: 1e6 },
  steps: [
    { operations: { linear: 4e6, float: 0 }, rowBytes: 1e6 },
    { operations: { linear: 4e6, float: 2e6 }, rowBytes: 2e6 },
  ],
  stepWeightBytes: 3e6,
};

describe('floors', () => {
  it('runs linear layers at the precision rate and the rest at the float32 rate', () => {
    expect(computeMs({ linear: 2e6, float: 1e6 }, 'int8', machine)).toBeCloseTo(2, 12);
    expect(computeMs({ linear: 2e6, float: 1e6 }, 'fp32', machine)).toBeCloseTo(3, 12);
  });

  it('takes the larger of compute and reads per step, and reads the weights once per step whatever the rows', () => {
    // int8, one row: step 0 max(2, 3+1) = 4, step 1 max(2+2, 3+2) = 5; vision 1 + 1 = 2
    // two rows: step 0 max(4, 3+2) = 5, step 1 max(4+4, 3+4) = 8; per image 2 + 13/2 = 8.5 ms
    const int8 = floors(costs, 'int8', machine, 2);
    expect(int8.captionMs).toBeCloseTo(11, 12);
    expect(int8.captionsPerSec).toBeCloseTo(1000 / 8.5, 9);
    expect(int8.decodeMsPerToken).toBeCloseTo((4 + 5) / 2, 12);
    // float32, one row: step 0 max(4, 4) = 4, step 1 max(6, 5) = 6; vision 2 + 1 = 3
    const fp32 = floors(costs, 'fp32', machine, 1);
    expect(fp32.captionMs).toBeCloseTo(13, 12);
    expect(fp32.captionsPerSec).toBeCloseTo(1000 / 13, 9);
    expect(fp32.decodeMsPerToken).toBeCloseTo(4.5, 12);
  });

  it('refuses a caption without steps and a batch that is not a positive integer', () => {
    expect(() => floors({ ...costs, steps: [] }, 'int8', machine, 1)).toThrow(/no steps/);
    expect(() => floors(costs, 'int8', machine, 0)).toThrow(/batch/);
  });

  it('keeps the higher of each limit measured before and after the figures', () => {
    expect(bestLimits([{ fp32Gflops: 3, int8Gops: 5, readGBps: 1 }, { fp32Gflops: 2, int8Gops: 7, readGBps: 1.5 }])).toEqual({ fp32Gflops: 3, int8Gops: 7, readGBps: 1.5 });
    expect(() => bestLimits([])).toThrow(/no machine/);
  });

  it('tells how far each limit moved between the samples of one run', () => {
    const drift = limitsDrift([{ fp32Gflops: 300, int8Gops: 700, readGBps: 20 }, { fp32Gflops: 300, int8Gops: 560, readGBps: 40 }]);
    expect(drift.fp32Gflops).toBe(0);
    expect(drift.int8Gops).toBeCloseTo(0.2, 12);
    expect(drift.readGBps).toBeCloseTo(0.5, 12);
  });

  it('gives the decode floor of the step reads alone, whatever the compute', () => {
    expect(decodeBandwidthFloorMs(costs, 2)).toBeCloseTo(4.5 / 2, 12);
  });

  it("gives the vision encoder's floor as its operations at the precision's ceilings", () => {
    expect(visionFloorMs(costs, 'int8', machine)).toBeCloseTo(2, 12);
    expect(visionFloorMs(costs, 'fp32', machine)).toBeCloseTo(3, 12);
  });

  it('names every figure measured faster than its floor, which only understated limits allow', () => {
    const atFloor = { captionVsFloor: 1, throughputVsFloor: 1, decodeVsBandwidthFloor: 1, visionVsFloor: 1 };
    expect(beatenFloors(atFloor)).toEqual([]);
    expect(beatenFloors({ captionVsFloor: 1.4, throughputVsFloor: 0.7, decodeVsBandwidthFloor: 2.5, visionVsFloor: 1.2 })).toEqual([]);
    // the run that showed it: a caption 1.13x, batches 1.04x the floor rate, the vision encoder 0.82x
    expect(beatenFloors({ captionVsFloor: 1.13, throughputVsFloor: 1.04, decodeVsBandwidthFloor: 1.91, visionVsFloor: 0.82 })).toEqual([
      'the vision encoder (0.82x its floor)', 'captions/s in batches (1.04x its floor)',
    ]);
    expect(beatenFloors({ ...atFloor, captionVsFloor: 0.9, decodeVsBandwidthFloor: 0.95 })).toEqual([
      'one caption (0.90x its floor)', 'the decoder step at one row (0.95x its floor)',
    ]);
  });

  it('divides the measured time by the floor, and the measured rate by the floor rate', () => {
    const r = ratios({ captionMs: 22, captionsPerSec: 50, decodeMsPerToken: 9 }, { captionMs: 11, captionsPerSec: 100, decodeMsPerToken: 4.5 });
    expect(r).toEqual({ captionVsFloor: 2, throughputVsFloor: 0.5, decodeVsBandwidthFloor: 2 });
  });
});

describe('model costs from the config', () => {
  // 32 px in 16 px patches: 4 patches + the class token
  const vision = blipVisionConfigSchema.parse({ hidden_size: 8, intermediate_size: 16, num_hidden_layers: 2, num_attention_heads: 2, image_size: 32, patch_size: 16 });
  const text = blipTextConfigSchema.parse({ vocab_size: 10, hidden_size: 8, encoder_hidden_size: 4, intermediate_size: 16, num_hidden_layers: 3, num_attention_heads: 2 });

  it('counts the vision encoder: patch embedding, projections and MLP per token, attention per pair of tokens', () => {
    const tokens = 5;
    expect(visionOperations(vision)).toEqual({
      linear: 2 * 2 * tokens * (4 * 8 * 8 + 2 * 8 * 16),
      float: 2 * (4 * 3 * 16 * 16 * 8 + 2 * 2 * tokens * tokens * 8),
    });
  });

  it('counts a decoder step with the cross-attention folded per head and the LM head', () => {
    const imageTokens = 5;
    const positions = 3;
    const perLayer = 4 * 8 * 8 + (8 * 8 + 8 * 4 + 4 * 8 + 8 * 8) + 2 * 8 * 16;
    expect(decoderStepOperations(text, imageTokens, positions)).toEqual({
      linear: 2 * (3 * perLayer + 8 * 8 + 8 * 10),
      float: 2 * 3 * (2 * imageTokens * 4 * 2 + 2 * positions * 8),
    });
    // states and their transpose, and the keys and values cached for every layer, float32
    expect(decoderRowBytes(text, imageTokens, positions)).toBe(4 * (2 * imageTokens * 4 + 2 * 3 * positions * 8));
  });

  it('gives a caption one step per token at growing cache lengths', () => {
    const c = captionCosts({ vision_config: vision, text_config: text }, 123, 3);
    expect(c.steps.map((s) => s.rowBytes)).toEqual([1, 2, 3].map((p) => decoderRowBytes(text, 5, p)));
    expect(c.stepWeightBytes).toBe(123);
  });

  it('visionCeilingCases measures the encoder linear shapes at its token count', () => {
    expect(visionCeilingCases(vision)).toEqual([
      { name: 'projections 8x8', widths: [8, 8], repeats: 2, rows: [5] },
      { name: 'mlp 8->16->8', widths: [8, 16, 8], repeats: 1, rows: [5] },
    ]);
  });
});

describe('graphWeightBytes and nodeWeights', () => {
  it('count inline and external initializers, not tables read only through Gather; per node, named after the largest', () => {
    const F = onnx.TensorProto.DataType.FLOAT;
    const I8 = onnx.TensorProto.DataType.INT8;
    const external = (name: string, length: number): onnxProto.onnx.ITensorProto => ({
      name, dataType: I8, dims: [length], dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [{ key: 'location', value: 'x.data' }, { key: 'offset', value: '0' }, { key: 'length', value: String(length) }],
    });
    const model: onnxProto.onnx.IModelProto = {
      irVersion: 8,
      graph: {
        name: 'g',
        initializer: [
          { name: 'bias', dataType: F, dims: [3], floatData: [1, 2, 3] }, // 12 bytes
          { name: 'weight', dataType: F, dims: [2], rawData: new Uint8Array(8) }, // 8 bytes
          external('table', 4096), // gathered only: not counted
          external('tied', 2048), // gathered and multiplied: counted
        ],
        node: [
          { opType: 'Gather', input: ['table', 'ids'], output: ['e'] },
          { opType: 'Gather', input: ['tied', 'ids'], output: ['f'] },
          { opType: 'MatMul', name: 'product', input: ['f', 'tied'], output: ['g'] },
          { opType: 'Add', name: 'shift', input: ['g', 'bias'], output: ['h'] },
          { opType: 'Mul', name: 'scale', input: ['h', 'weight', 'bias'], output: ['y'] },
        ],
      },
    };
    const file = path.join(scratch, 'weights.onnx');
    writeFileSync(file, onnx.ModelProto.encode(model).finish());
    expect(graphWeightBytes(file)).toBe(12 + 8 + 2048);
    expect(Object.fromEntries(nodeWeights(file))).toEqual({
      product: { name: 'tied', dims: [2048], bytes: 2048 },
      shift: { name: 'bias', dims: [3], bytes: 12 },
      scale: { name: 'bias', dims: [3], bytes: 20 },
    });
  });
});

describe('read-bandwidth kernel', () => {
  it('sums each row of the streamed buffer', async () => {
    const session = await ort.InferenceSession.create(buildRowSumGraph(2, 3), { logSeverityLevel: 3 });
    try {
      const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]) });
      expect(Array.from(out.y!.data as Float32Array)).toEqual([6, 15]);
    } finally {
      await session.release();
    }
  });
});

describe('the --json captioning line', () => {
  const floor = floors(costs, 'int8', machine, 2);
  const line = {
    precision: 'int8', visionMs: 150, crossKvMs: 1, decodeMsPerToken: { '1': 14, '8': 32 }, captionMs: 490,
    captionsPerSecBatch8: 4, peakRssMiB: 517, coldStartMs: 1480, naiveCaptionMs: 760,
    machine, floors: floor, ratios: ratios({ captionMs: 490, captionsPerSec: 4, decodeMsPerToken: 14 }, floor),
  };

  it('has the fields of the DESIGN contract, machine limits, floors and ratios included', () => {
    const parsed = precisionReportSchema.parse(JSON.parse(JSON.stringify(line)));
    expect(Object.keys(parsed.machine).sort()).toEqual(['fp32Gflops', 'int8Gops', 'readGBps']);
    expect(Object.keys(parsed.floors).sort()).toEqual(['captionMs', 'captionsPerSec', 'decodeMsPerToken']);
    expect(Object.keys(parsed.ratios).sort()).toEqual(['captionVsFloor', 'decodeVsBandwidthFloor', 'throughputVsFloor']);
    expect(parsed.ratios.captionVsFloor).toBeCloseTo(490 / 11, 9);
  });

  it('rejects a line without ratios, or with a field the contract does not name', () => {
    const { ratios: _dropped, ...withoutRatios } = line;
    expect(precisionReportSchema.safeParse(withoutRatios).success).toBe(false);
    expect(precisionReportSchema.safeParse({ ...line, machine: { ...machine, l3MiB: 480 } }).success).toBe(false);
    expect(precisionReportSchema.safeParse({ ...line, floors: { ...floor, captionMs: 0 } }).success).toBe(false);
  });
});

describe('summariseProfile', () => {
  it('gives nodes and kernel ms per step by operator type, and the linear layers by weights, from an ONNX Runtime profile', () => {
    const node = (op: string, name: string, dur: number): object => ({ cat: 'Node', name: `${name}_kernel_time`, dur, args: { op_name: op } });
    const events = [
      { cat: 'Session', name: 'model_run', dur: 5000 },
      { cat: 'Session', name: 'model_run', dur: 7000 },
      ...[0, 1].flatMap(() => [
        node('DynamicQuantizeMatMul', 'layer.0/MatMulInteger_1', 1000), node('DynamicQuantizeMatMul', 'layer.1/MatMulInteger_9', 2000),
        node('DynamicQuantizeMatMul', 'cls/MatMulInteger_20', 500), node('MatMul', 'layer.0/MatMul_3', 1000), node('LayerNormalization', 'layer.0/Norm', 200),
      ]),
      { cat: 'Node', name: 'n_fence_before', dur: 1 },
    ];
    // 3 MB read by the layers' two products in 3 ms, 1 MB by the head's in 0.5 ms; the states product and the norm read no linear weights
    const weights = new Map([
      ['layer.0/MatMulInteger_1', { name: 't.layer.0.attn.q+t.layer.0.attn.k.weight_int8', dims: [768, 1000], bytes: 1.5e6 }],
      ['layer.1/MatMulInteger_9', { name: 't.layer.1.attn.q+t.layer.1.attn.k.weight_int8', dims: [768, 1000], bytes: 1.5e6 }],
      ['cls/MatMulInteger_20', { name: 't.cls.decoder.weight_int8', dims: [768, 1302], bytes: 1e6 }],
      ['layer.0/Norm', { name: 't.layer.0.norm.weight', dims: [768], bytes: 3072 }],
    ]);
    expect(summariseProfile(events, weights)).toEqual({
      runs: 2,
      runMs: 6,
      operators: [
        { opType: 'DynamicQuantizeMatMul', nodesPerStep: 3, msPerStep: 3.5 },
        { opType: 'MatMul', nodesPerStep: 1, msPerStep: 1 },
        { opType: 'LayerNormalization', nodesPerStep: 1, msPerStep: 0.2 },
      ],
      linearLayers: [
        { weights: 't.layer.*.attn.q+k 768x1000', nodesPerStep: 2, msPerStep: 3, gbps: 1 },
        { weights: 't.cls.decoder 768x1302', nodesPerStep: 1, msPerStep: 0.5, gbps: 2 },
      ],
      weightKernelMs: 3.5,
    });
    expect(() => summariseProfile([], weights)).toThrow(/model_run/);
    expect(() => summariseProfile({ not: 'a profile' }, weights)).toThrow();
  });
});

// Small ONNX graphs for measuring one linear layer kind in isolation: a chain of `depth` layers
// with distinct weights (so weights stream from memory as in the real model), in float32, in
// dynamic int8 (DynamicQuantizeLinear + MatMulInteger, which ONNX Runtime fuses), as the fused
// contrib operator DynamicQuantizeMatMul directly, or weight-only MatMulNBits (4 or 8 bits).
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

const { onnx } = onnxProto;
import { quantizeNBits, quantizePerChannelInt8 } from '../../blip/quant/quantize.js';

export type MicroVariant = 'fp32' | 'dq-int8' | 'dqmm-int8' | 'nbits4' | 'nbits8';
export const MICRO_VARIANTS: readonly MicroVariant[] = ['fp32', 'dq-int8', 'dqmm-int8', 'nbits4', 'nbits8'];

export interface ChainSpec {
  /** widths along the chain: layer i maps widths[i] -> widths[i+1] */
  widths: number[];
  /** how many times the width pattern repeats (distinct weights every time) */
  repeats: number;
  variant: MicroVariant;
  seed: number;
  /** MatMulNBits block size along K */
  blockSize?: number;
}

const F = onnx.TensorProto.DataType.FLOAT;
const I8 = onnx.TensorProto.DataType.INT8;
const U8 = onnx.TensorProto.DataType.UINT8;

function bytes(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function tensor(name: string, dataType: number, dims: number[], data: ArrayBufferView): OnnxTypes.ITensorProto {
  return { name, dataType, dims, rawData: bytes(data) };
}

function attrInt(name: string, i: number): OnnxTypes.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i };
}

/** Deterministic N(0, std) weights (xorshift + Box-Muller). */
export function gaussian(count: number, std: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let s = (seed * 2654435761) >>> 0 || 1;
  const next = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  for (let i = 0; i < count; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next()));
    const t = 2 * Math.PI * next();
    out[i] = r * Math.cos(t) * std;
    if (i + 1 < count) out[i + 1] = r * Math.sin(t) * std;
  }
  return out;
}

export function buildChain(spec: ChainSpec): Uint8Array {
  const nodes: OnnxTypes.INodeProto[] = [];
  const inits: OnnxTypes.ITensorProto[] = [];
  let current = 'x';
  let layer = 0;
  const blockSize = spec.blockSize ?? 32;
  for (let r = 0; r < spec.repeats; r++) {
    for (let w = 0; w + 1 < spec.widths.length; w++) {
      const k = spec.widths[w]!;
      const n = spec.widths[w + 1]!;
      const p = `l${layer}`;
      // weight [K, N] as MatMul wants it (HF Linear stores [N, K]; transposed here)
      const weight = gaussian(k * n, 0.02, spec.seed + layer);
      const bias = gaussian(n, 0.02, spec.seed + 10_000 + layer);
      inits.push(tensor(`${p}.b`, F, [n], bias));
      const out = `${p}.y`;
      const mm = `${p}.mm`;
      switch (spec.variant) {
        case 'fp32':
          inits.push(tensor(`${p}.w`, F, [k, n], weight));
          nodes.push({ opType: 'MatMul', input: [current, `${p}.w`], output: [mm], name: `${p}.MatMul` });
          nodes.push({ opType: 'Add', input: [mm, `${p}.b`], output: [out], name: `${p}.Add` });
          break;
        case 'dq-int8': {
          const q = quantizePerChannelInt8(weight, k, n);
          inits.push(tensor(`${p}.wq`, I8, [k, n], q.values));
          inits.push(tensor(`${p}.ws`, F, [n], q.scales));
          inits.push(tensor(`${p}.wz`, I8, [n], new Int8Array(n)));
          nodes.push({ opType: 'DynamicQuantizeLinear', input: [current], output: [`${p}.xq`, `${p}.xs`, `${p}.xz`], name: `${p}.DQL` });
          nodes.push({ opType: 'MatMulInteger', input: [`${p}.xq`, `${p}.wq`, `${p}.xz`, `${p}.wz`], output: [`${p}.i32`], name: `${p}.MMI` });
          nodes.push({ opType: 'Cast', input: [`${p}.i32`], output: [`${p}.f`], attribute: [attrInt('to', F)], name: `${p}.Cast` });
          nodes.push({ opType: 'Mul', input: [`${p}.xs`, `${p}.ws`], output: [`${p}.s`], name: `${p}.ScaleMul` });
          nodes.push({ opType: 'Mul', input: [`${p}.f`, `${p}.s`], output: [mm], name: `${p}.OutMul` });
          nodes.push({ opType: 'Add', input: [mm, `${p}.b`], output: [out], name: `${p}.Add` });
          break;
        }
        case 'dqmm-int8': {
          const q = quantizePerChannelInt8(weight, k, n);
          inits.push(tensor(`${p}.wq`, I8, [k, n], q.values));
          inits.push(tensor(`${p}.ws`, F, [n], q.scales));
          inits.push(tensor(`${p}.wz`, I8, [n], new Int8Array(n)));
          nodes.push({
            opType: 'DynamicQuantizeMatMul', domain: 'com.microsoft',
            input: [current, `${p}.wq`, `${p}.ws`, `${p}.wz`, `${p}.b`], output: [out], name: `${p}.DQMM`,
          });
          break;
        }
        case 'nbits4':
        case 'nbits8': {
          const bits = spec.variant === 'nbits4' ? 4 : 8;
          const q = quantizeNBits(weight, k, n, bits, blockSize);
          inits.push(tensor(`${p}.wq`, U8, [n, q.blocksPerColumn, q.blobSize], q.packed));
          inits.push(tensor(`${p}.ws`, F, [n * q.blocksPerColumn], q.scales));
          nodes.push({
            opType: 'MatMulNBits', domain: 'com.microsoft',
            input: [current, `${p}.wq`, `${p}.ws`, '', '', `${p}.b`], output: [out], name: `${p}.MatMulNBits`,
            attribute: [attrInt('K', k), attrInt('N', n), attrInt('bits', bits), attrInt('block_size', blockSize), attrInt('accuracy_level', 4)],
          });
          break;
        }
      }
      current = out;
      layer++;
    }
  }
  const inWidth = spec.widths[0]!;
  const outWidth = spec.widths[spec.widths.length - 1]!;
  const dims = (w: number): OnnxTypes.ITypeProto => ({
    tensorType: { elemType: F, shape: { dim: [{ dimParam: 'm' }, { dimValue: w }] } },
  });
  const graph: OnnxTypes.IGraphProto = {
    name: 'chain', node: nodes, initializer: inits,
    input: [{ name: 'x', type: dims(inWidth) }],
    output: [{ name: current, type: dims(outWidth) }],
  };
  const model: OnnxTypes.IModelProto = {
    irVersion: 8, producerName: 'blipline-bench', graph,
    opsetImport: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }],
  };
  return onnx.ModelProto.encode(model).finish();
}

// ONNX Runtime micro-measurements of the linear layers at BLIP-base shapes, to choose per graph
// between float32 MatMul, dynamic int8 (DynamicQuantizeMatMul) and weight-only MatMulNBits.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

const { onnx } = onnxProto;
import { buildChain, gaussian, MICRO_VARIANTS, type MicroVariant } from './onnx-matmul.js';
import { sessionOptions } from '../../blip/runtime/sessions.js';
import { median } from '../stats.js';

export interface MicroCase {
  name: string;
  widths: number[];
  repeats: number;
  rows: number[];
}

/** BLIP-base linear layers: text/vision width 768, MLP 3072, vocab 30524, 577 image tokens. */
export const BLIP_BASE_CASES: MicroCase[] = [
  { name: 'square 768x768 (attention projections)', widths: [768, 768], repeats: 12, rows: [1, 8, 577] },
  { name: 'mlp 768->3072->768', widths: [768, 3072, 768], repeats: 6, rows: [1, 8, 577] },
  { name: 'lm head 768->30524', widths: [768, 30524], repeats: 1, rows: [1, 8] },
];

export interface MicroResult {
  case: string;
  rows: number;
  variant: MicroVariant;
  layers: number;
  msPerLayer: number;
  gflops: number;
  maxRelErrVsFp32: number;
  fusedOps: string[];
}

function opTypes(file: string): string[] {
  const model = onnx.ModelProto.decode(readFileSync(file));
  return [...new Set((model.graph?.node ?? []).map((n) => n.opType ?? ''))].sort();
}

export interface MicroOptions {
  threads: number;
  runs: number;
  log: (line: string) => void;
  /** default BLIP_BASE_CASES */
  cases?: readonly MicroCase[];
  /** default MICRO_VARIANTS; `fp32` is always measured (the reference of the error column) */
  variants?: readonly MicroVariant[];
}

export async function runMicro(options: MicroOptions): Promise<MicroResult[]> {
  const variants: readonly MicroVariant[] = ['fp32', ...(options.variants ?? MICRO_VARIANTS).filter((v) => v !== 'fp32')];
  const results: MicroResult[] = [];
  const dir = mkdtempSync(path.join(tmpdir(), 'blipline-micro-'));
  try {
    for (const c of options.cases ?? BLIP_BASE_CASES) {
      const layers = c.repeats * (c.widths.length - 1);
      let macsPerRow = 0;
      for (let i = 0; i + 1 < c.widths.length; i++) macsPerRow += c.widths[i]! * c.widths[i + 1]!;
      macsPerRow *= c.repeats;
      const sessions = new Map<MicroVariant, { session: ort.InferenceSession; ops: string[] }>();
      for (const variant of variants) {
        const bytes = buildChain({ widths: c.widths, repeats: c.repeats, variant, seed: 7 });
        const optimized = path.join(dir, `${variant}.onnx`);
        // The runtime's session options: idle threads sleep. The variants run round-robin, and with ONNX
        // Runtime's default (spin-wait after a run) each session's idle thread kept a vCPU busy through
        // the next variant's run: on a 2-vCPU AMD Zen 5 that measured 850 GOP/s int8 and 343 GFLOP/s
        // float32 where the vision encoder's own products ran at ~1,650; alone, or round-robin without
        // spinning, the chains reach 1,440-1,510 and 420-480.
        const session = await ort.InferenceSession.create(bytes, {
          ...sessionOptions({ threads: options.threads }), optimizedModelFilePath: optimized, logSeverityLevel: 3,
        });
        sessions.set(variant, { session, ops: opTypes(optimized) });
      }
      for (const rows of c.rows) {
        const x = gaussian(rows * c.widths[0]!, 1, 99 + rows);
        const feeds = { x: new ort.Tensor('float32', x, [rows, c.widths[0]!]) };
        const outputs = new Map<MicroVariant, Float32Array>();
        const times = new Map<MicroVariant, number[]>(variants.map((v) => [v, []]));
        for (const variant of variants) {
          const { session } = sessions.get(variant)!;
          for (let i = 0; i < 2; i++) outputs.set(variant, (await session.run(feeds))[session.outputNames[0]!]!.data as Float32Array);
        }
        // round-robin so load from other processes spreads evenly over the variants
        for (let i = 0; i < options.runs; i++) {
          for (const variant of variants) {
            const { session } = sessions.get(variant)!;
            const t0 = performance.now();
            await session.run(feeds);
            times.get(variant)!.push(performance.now() - t0);
          }
        }
        const reference = outputs.get('fp32')!;
        for (const variant of variants) {
          const out = outputs.get(variant)!;
          let maxErr = 0;
          let maxRef = 0;
          for (let i = 0; i < out.length; i++) {
            maxErr = Math.max(maxErr, Math.abs(out[i]! - reference[i]!));
            maxRef = Math.max(maxRef, Math.abs(reference[i]!));
          }
          const ms = median(times.get(variant)!);
          const ops = sessions.get(variant)!.ops;
          const result: MicroResult = {
            case: c.name, rows, variant, layers, msPerLayer: ms / layers,
            gflops: (2 * rows * macsPerRow) / (ms * 1e6), maxRelErrVsFp32: maxRef > 0 ? maxErr / maxRef : 0, fusedOps: ops,
          };
          results.push(result);
          options.log(
            `${c.name.padEnd(40)} M=${String(rows).padStart(3)} ${variant.padEnd(9)} ` +
              `${result.msPerLayer.toFixed(3).padStart(8)} ms/layer ${result.gflops.toFixed(1).padStart(6)} GFLOP/s ` +
              `relerr ${result.maxRelErrVsFp32.toExponential(1)}  ops: ${ops.join(',')}`,
          );
        }
      }
      for (const { session } of sessions.values()) await session.release();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

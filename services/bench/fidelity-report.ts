// `npm run bench -- --tasks fidelity`: what int8 costs against float32, graph by graph, on random
// weights at the BLIP-base shapes and on the blip-tiny fixture checkpoint, with the graphs the
// current builder compiles (README, "int8: what it costs in fidelity").
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fixturesDir } from '../core/config.js';
import type { PrecisionPlan } from './captioning-graphs.js';
import { cacheRoot, ensureBaseCheckpoint, fixturePixelFiles } from './checkpoints.js';
import { type FidelitySummary, measureFidelity } from './fidelity.js';

/** One row of the fidelity table (and of `--json`, with `task: 'fidelity'`). */
export interface FidelityRow {
  task: 'fidelity';
  /** the graphs compiled to int8; the others stay float32 */
  int8Graphs: string;
  checkpoint: string;
  imageStatesCosineMin: number;
  klMean: number;
  klMax: number;
  top1Agreement: number;
  /** positions where float32's top-1 leads by more than DECISIVE_MARGIN, and the agreement there */
  decisivePositions: number;
  decisiveAgreement: number;
  positions: number;
}

const PLANS: { int8Graphs: string; plan: PrecisionPlan }[] = [
  { int8Graphs: 'vision only', plan: { vision: 'int8', decoder: 'fp32' } },
  { int8Graphs: 'decoder step + LM head only', plan: { vision: 'fp32', decoder: 'int8' } },
  { int8Graphs: 'all', plan: { vision: 'int8', decoder: 'int8' } },
];

function row(int8Graphs: string, checkpoint: string, summary: FidelitySummary): FidelityRow {
  const decisive = summary.cases.reduce((sum, c) => sum + c.decisivePositions, 0);
  const decisiveAgreeing = summary.cases.reduce((sum, c) => sum + c.decisiveAgreement * c.decisivePositions, 0);
  return {
    task: 'fidelity',
    int8Graphs,
    checkpoint,
    imageStatesCosineMin: summary.imageStatesCosineMin,
    klMean: summary.klMean,
    klMax: summary.klMax,
    top1Agreement: summary.top1Agreement,
    decisivePositions: decisive,
    decisiveAgreement: decisive > 0 ? decisiveAgreeing / decisive : 1,
    positions: summary.cases.reduce((sum, c) => sum + c.positions, 0),
  };
}

/**
 * The fixture images (preprocessed at 384 px) along float32's own greedy path of `tokens` tokens:
 * each int8 graph alone and all of them, on BLIP-base shapes; all of them on the fixture checkpoint.
 */
export async function benchFidelity(options: { threads: number; tokens: number; log: (line: string) => void }): Promise<FidelityRow[]> {
  const cases = fixturePixelFiles().map((file) => {
    const bytes = readFileSync(file);
    return { name: path.basename(file, '.f32'), pixels: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4) };
  });
  const common = { cases, threads: options.threads, cacheDir: cacheRoot(), greedyTokens: options.tokens, log: options.log };
  const base = ensureBaseCheckpoint('captioning').dir;
  options.log(`fidelity: BLIP-base shapes, random weights (${base})`);
  const baseSummaries = await measureFidelity({ ...common, checkpointDir: base, plans: PLANS.map((p) => p.plan) });
  options.log('fidelity: blip-tiny fixture checkpoint');
  const all = PLANS.at(-1)!;
  const [fixture] = await measureFidelity({ ...common, checkpointDir: path.join(fixturesDir(), 'blip-tiny-captioning'), plans: [all.plan] });
  return [
    ...baseSummaries.map((summary, i) => row(PLANS[i]!.int8Graphs, 'BLIP-base shapes, random', summary)),
    row(all.int8Graphs, 'blip-tiny fixture', fixture!),
  ];
}

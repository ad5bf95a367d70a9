// `npm run bench`: BLIP-base performance on this machine (docs/performance.md); USAGE below.
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { benchCaptioning, benchContext, benchVqa, type PrecisionDetails, type PrecisionReport, type VqaReport } from '../services/bench/index.js';
import { benchFidelity, type FidelityRow } from '../services/bench/fidelity-report.js';
import { cacheRoot, ensureBaseCheckpoint } from '../services/bench/checkpoints.js';
import { activeKernels, KERNEL_SETS, runOnKernels } from '../services/bench/isa/index.js';
import { readBlipConfig } from '../services/blip/config.js';
import { decodeBandwidthFloorMs } from '../services/bench/floors.js';
import { measureReadBandwidth } from '../services/bench/micro/read-bandwidth.js';
import { runMicro } from '../services/bench/micro/run.js';
import { captionCosts } from '../services/bench/model-costs.js';
import { profileDecoderStep, type StepProfile } from '../services/bench/step-profile.js';
import { precisionReportSchema } from '../services/bench/report.js';

const USAGE = `usage: npm run bench -- [options]
  --json                one JSON line per precision (the fields of issues 4 and 19: figures, this machine's
                        limits, the floors and the ratios to them), nothing else on stdout;
                        with --tasks including vqa, also one {"task":"vqa",...} line per precision
  --tasks caption,vqa   what to measure (default: caption,vqa for the table, caption with --json);
                        \`fidelity\` adds int8-vs-float32 fidelity per graph ({"task":"fidelity",...} lines)
  --precision fp32,int8 precisions to measure (default both)
  --runs N              measured runs per figure after warm-up (default 5)
  --threads N           intra-op threads (default: vCPUs)
  --model DIR           measure this captioning checkpoint instead of random BLIP-base weights
  --vqa-model DIR       measure this VQA checkpoint instead of random blip-vqa-base weights
  --micro               ONNX Runtime matmul micro-measurements instead
  --profile-step        instead: ONNX Runtime's per-operator profile of the decoder step, per precision,
                        beside its bandwidth floor at one row, and the rate at which each linear layer's
                        kernels read its weights (docs/performance.md)
  --rows N              decoder rows of --profile-step, each with an image of its own (default 1)
  --kernels avx2        run on ONNX Runtime's AVX2 kernels, as on issue 4's reference machines (AMD EPYC
                        Zen 3), with AVX-512, VNNI and AMX hidden on hosts that have them
                        (services/bench/isa; needs a C compiler and CPUID faulting); default native
  --help, -h            this text`;

const argsSchema = z.object({
  json: z.boolean(),
  precisions: z.array(z.enum(['fp32', 'int8'])).min(1),
  runs: z.coerce.number().int().min(1),
  threads: z.coerce.number().int().min(1),
  micro: z.boolean(),
  profileStep: z.boolean(),
  rows: z.coerce.number().int().min(1).max(64),
  model: z.string().optional(),
  vqaModel: z.string().optional(),
  tasks: z.array(z.enum(['caption', 'vqa', 'fidelity'])).min(1),
  kernels: z.enum(KERNEL_SETS),
});

/** The options, or the exit code when there is nothing to run (help, or bad arguments explained on stderr). */
function readOptions(argv: string[]): z.infer<typeof argsSchema> | number {
  const usageError = (reason: string): number => {
    process.stderr.write(`bench: ${reason}\n${USAGE}\n`);
    return 2;
  };
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        json: { type: 'boolean', default: false },
        precision: { type: 'string', default: 'fp32,int8' },
        runs: { type: 'string', default: '5' },
        threads: { type: 'string' },
        micro: { type: 'boolean', default: false },
        'profile-step': { type: 'boolean', default: false },
        rows: { type: 'string', default: '1' },
        model: { type: 'string' },
        'vqa-model': { type: 'string' },
        tasks: { type: 'string' },
        kernels: { type: 'string', default: 'native' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    return usageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const parsed = argsSchema.safeParse({
    json: values.json,
    precisions: values.precision.split(',').map((p) => p.trim()),
    runs: values.runs,
    threads: values.threads ?? os.availableParallelism(),
    micro: values.micro,
    profileStep: values['profile-step'],
    rows: values.rows,
    model: values.model,
    vqaModel: values['vqa-model'],
    tasks: (values.tasks ?? (values.json ? 'caption' : 'caption,vqa')).split(',').map((t) => t.trim()),
    kernels: values.kernels,
  });
  return parsed.success ? parsed.data : usageError(z.prettifyError(parsed.error).replace(/\n/g, '; '));
}

const read = readOptions(process.argv.slice(2));
if (typeof read === 'number') process.exit(read);
const options = read;

const rerun = await runOnKernels(options.kernels, cacheRoot());
if (rerun !== undefined) process.exit(rerun);

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
const fmt = (n: number, digits = 0): string => n.toFixed(digits);

function table(reports: PrecisionReport[], details: PrecisionDetails[]): string {
  const detail = (r: PrecisionReport): PrecisionDetails => details[reports.indexOf(r)]!;
  const ratio = (n: number): string => `${fmt(n, 2)}x`;
  const rows: [string, (r: PrecisionReport) => string][] = [
    ['**one caption ÷ its floor**', (r) => ratio(r.ratios.captionVsFloor)],
    ['**captions/s, batches of 8 ÷ the floor rate**', (r) => ratio(r.ratios.throughputVsFloor)],
    ['**decode step, batch 1 ÷ its bandwidth floor**', (r) => ratio(r.ratios.decodeVsBandwidthFloor)],
    ['floors: one caption ms / captions/s / decode ms per token', (r) => `${fmt(r.floors.captionMs)} / ${fmt(r.floors.captionsPerSec, 2)} / ${fmt(r.floors.decodeMsPerToken, 1)}`],
    ['this machine: float32 GFLOP/s / int8 GOP/s / read GB/s', (r) => `${fmt(r.machine.fp32Gflops)} / ${fmt(r.machine.int8Gops)} / ${fmt(r.machine.readGBps, 1)}`],
    ['vision encoder, ms (÷ its floor)', (r) => `${fmt(r.visionMs)} (${ratio(detail(r).visionVsFloor)})`],
    ['cross-attention inputs per image (crossKvMs: states transposed, no K/V), ms', (r) => fmt(r.crossKvMs, 1)],
    ['decode ms/token, batch 1', (r) => fmt(r.decodeMsPerToken['1'], 1)],
    ['decode ms/token, batch 8 (per step)', (r) => fmt(r.decodeMsPerToken['8'], 1)],
    ['one caption (20 greedy tokens), ms', (r) => fmt(r.captionMs)],
    ['captions/s, batches of 8 decoded together (the worker)', (r) => fmt(r.captionsPerSecBatch8, 2)],
    ['peak RSS, MiB', (r) => fmt(r.peakRssMiB)],
    ['captions/s, batches of 8 in rows of the library default (rows)', (r) => `${fmt(detail(r).defaultRows.captionsPerSec, 2)} (${detail(r).defaultRows.decoderRows})`],
    ['peak RSS in rows of the library default, MiB', (r) => fmt(detail(r).defaultRows.peakRssMiB)],
    ['cold start to first caption (cached graphs), ms', (r) => fmt(r.coldStartMs)],
    ['naive decoding (no cache), one caption, ms', (r) => fmt(r.naiveCaptionMs)],
    ['cached decoding, same sessions as the naive runs, ms', (r) => fmt(detail(r).cachedCaptionMs)],
    ['naive / cached (same sessions, interleaved)', (r) => `${fmt(r.naiveCaptionMs / detail(r).cachedCaptionMs, 2)}x`],
  ];
  const header = `| | ${reports.map((r) => r.precision).join(' | ')} |\n|---|${reports.map(() => '---').join('|')}|`;
  return [header, ...rows.map(([name, cell]) => `| ${name} | ${reports.map(cell).join(' | ')} |`)].join('\n');
}

/** `floorMs`: the one-row step's bandwidth floor, only for a profile at one row (more rows add operations to bound it). */
function stepProfileReport(p: StepProfile, readGBps: number, floorMs?: number): string {
  const linearRead = `its linear layers' kernels read the weights in ${fmt(p.weightKernelMsPerStep, 2)} ms, ${fmt(p.weightBytes / (p.weightKernelMsPerStep * 1e6), 1)} GB/s`;
  return [
    `${p.precision} decoder step at ${p.rows === 1 ? 'one row' : `${p.rows} rows`}, ${p.steps} steps (profiling on): ${fmt(p.wallMsPerStep, 2)} ms per step around session.run, ` +
      `${fmt(p.runMsPerStep, 2)} inside it, ${fmt(p.kernelMsPerStep, 2)} in operators (${fmt(p.operators.reduce((t, o) => t + o.nodesPerStep, 0))} per step)`,
    floorMs === undefined
      ? `${fmt(p.weightBytes / 1e6, 1)} MB of weights, memory read bandwidth ${fmt(readGBps, 1)} GB/s: ${linearRead}`
      : `bandwidth floor ${fmt(floorMs, 2)} ms (${fmt(p.weightBytes / 1e6, 1)} MB of weights and the row's states and cache at ${fmt(readGBps, 1)} GB/s): ` +
        `the step takes ${fmt(p.wallMsPerStep / floorMs, 2)}x; ${linearRead}`,
    '',
    '| operator | nodes per step | ms per step | share of the operators |',
    '|---|---|---|---|',
    ...p.operators.map((o) => `| ${o.opType} | ${fmt(o.nodesPerStep)} | ${fmt(o.msPerStep, 2)} | ${fmt((100 * o.msPerStep) / p.kernelMsPerStep, 1)}% |`),
    '',
    `| linear layer (weights) | nodes per step | ms per step | GB/s read (this run: ${fmt(readGBps, 1)}) |`,
    '|---|---|---|---|',
    ...p.linearLayers.map((l) => `| ${l.weights} | ${fmt(l.nodesPerStep)} | ${fmt(l.msPerStep, 2)} | ${fmt(l.gbps, 1)} |`),
  ].join('\n');
}

function vqaTable(reports: VqaReport[]): string {
  const rows: [string, (r: VqaReport) => string][] = [
    ['vision encoder, ms', (r) => fmt(r.visionMs)],
    ['question encoding, ms', (r) => fmt(r.questionMs, 1)],
    ['answer decoding, ms/token', (r) => fmt(r.decodeMsPerToken, 1)],
    ['one answer, ms (tokens)', (r) => `${fmt(r.answerMs)} (${r.answerTokens})`],
    ['peak RSS, MiB', (r) => fmt(r.peakRssMiB)],
  ];
  const header = `| VQA (blip-vqa-base shapes) | ${reports.map((r) => r.precision).join(' | ')} |\n|---|${reports.map(() => '---').join('|')}|`;
  return [header, ...rows.map(([name, cell]) => `| ${name} | ${reports.map(cell).join(' | ')} |`)].join('\n');
}

function fidelityTable(rows: FidelityRow[]): string {
  const header = '| int8 graphs | checkpoint | image-state cosine (min) | KL(fp32‖int8) mean / max, nats | top-1 agreement, all positions | where fp32 leads by > 0.1 logit |\n|---|---|---|---|---|---|';
  const exp = (n: number): string => n.toExponential(1);
  return [
    header,
    ...rows.map((r) => `| ${r.int8Graphs} | ${r.checkpoint} | ${r.imageStatesCosineMin.toFixed(5)} | ${exp(r.klMean)} / ${exp(r.klMax)} | ${r.top1Agreement.toFixed(3)} of ${r.positions} | ${r.decisivePositions ? `${r.decisiveAgreement.toFixed(3)} of ${r.decisivePositions}` : 'none'} |`),
  ].join('\n');
}

if (options.micro) {
  await runMicro({ threads: options.threads, runs: Math.max(options.runs, 7), log: (line) => process.stdout.write(`${line}\n`) });
} else if (options.profileStep) {
  const checkpoint = options.model ? path.resolve(options.model) : ensureBaseCheckpoint('captioning').dir;
  for (const precision of options.precisions) {
    const read = await measureReadBandwidth({ threads: options.threads, runs: Math.max(options.runs, 5) });
    const profile = await profileDecoderStep({ checkpointDir: checkpoint, precision, threads: options.threads, cacheDir: cacheRoot(), runs: options.runs, tokens: 20, rows: options.rows, log });
    const costs = captionCosts(await readBlipConfig(checkpoint), profile.weightBytes, 20);
    process.stdout.write(`${stepProfileReport(profile, read.gbps, options.rows === 1 ? decodeBandwidthFloorMs(costs, read.gbps) : undefined)}\n\n`);
  }
} else {
  const context = await benchContext(options.threads);
  const machine = `${context.machine}, ${activeKernels() === 'avx2' ? 'AVX2 kernels (AVX-512, VNNI and AMX hidden)' : `${options.kernels} kernels`}`;
  log(`machine: ${machine}; onnxruntime-node ${context.onnxruntime}; threads ${context.threads}; load ${context.loadAverage.map((l) => l.toFixed(2)).join(' ')}`);
  const common = { precisions: options.precisions, threads: options.threads, runs: options.runs, tokens: 20, log };
  const { reports, details } = options.tasks.includes('caption')
    ? await benchCaptioning({ ...common, batch: 8, ...(options.model ? { model: options.model } : {}) })
    : { reports: [], details: [] };
  const vqa = options.tasks.includes('vqa') ? await benchVqa({ ...common, ...(options.vqaModel ? { model: options.vqaModel } : {}) }) : [];
  const fidelity = options.tasks.includes('fidelity') ? await benchFidelity({ threads: options.threads, tokens: common.tokens, log }) : [];
  if (options.json) {
    for (const r of [...reports.map((report) => precisionReportSchema.parse(report)), ...vqa, ...fidelity]) process.stdout.write(`${JSON.stringify(r)}\n`);
  } else {
    if (reports.length) process.stdout.write(`${table(reports, details)}\n\n`);
    if (vqa.length) process.stdout.write(`${vqaTable(vqa)}\n\n`);
    if (fidelity.length) process.stdout.write(`${fidelityTable(fidelity)}\n\n`);
    process.stdout.write(`${machine}; load average after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  }
}

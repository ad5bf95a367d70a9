// The shape of one `npm run bench -- --json` captioning line (DESIGN.md's contract, issues 4 and 19).
import { z } from 'zod';

const positive = z.number().positive();

export const machineLimitsSchema = z.strictObject({ fp32Gflops: positive, int8Gops: positive, readGBps: positive });
export const floorsSchema = z.strictObject({ captionMs: positive, captionsPerSec: positive, decodeMsPerToken: positive });
export const ratiosSchema = z.strictObject({ captionVsFloor: positive, throughputVsFloor: positive, decodeVsBandwidthFloor: positive });

export const precisionReportSchema = z.strictObject({
  precision: z.enum(['fp32', 'int8']),
  visionMs: positive,
  /** issue 4's field: what the decoder needs per image before its first step (the states transposed; no keys/values are computed) */
  crossKvMs: z.number().nonnegative(),
  decodeMsPerToken: z.strictObject({ '1': positive, '8': positive }),
  captionMs: positive,
  captionsPerSecBatch8: positive,
  peakRssMiB: positive,
  coldStartMs: positive,
  naiveCaptionMs: positive,
  /** this machine's limits, measured in the same run just before this precision's figures */
  machine: machineLimitsSchema,
  /** the least this machine could take, from `machine` and the model's costs (docs/performance.md) */
  floors: floorsSchema,
  /** caption and decode: measured ÷ floor; throughput: measured ÷ floor rate */
  ratios: ratiosSchema,
});

/** One line of `npm run bench -- --json` per precision. */
export type PrecisionReport = z.infer<typeof precisionReportSchema>;

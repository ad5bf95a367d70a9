import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ProcessorConfigError } from './errors.js';
import { Resampling, type ResamplingFilter } from './resample.js';

/** OpenAI CLIP statistics: the defaults of Hugging Face's `BlipImageProcessor`. */
const CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

export type ResizeTarget =
  | { kind: 'fixed'; height: number; width: number }
  | { kind: 'shortestEdge'; shortestEdge: number; longestEdge?: number };

/** The fields of `preprocessor_config.json` that decide the pixel values (class name is ignored). */
export interface ProcessorConfig {
  doConvertRgb: boolean;
  doResize: boolean;
  size: ResizeTarget;
  resample: ResamplingFilter;
  doRescale: boolean;
  rescaleFactor: number;
  doNormalize: boolean;
  imageMean: [number, number, number];
  imageStd: [number, number, number];
}

const positiveInt = z.number().int().positive();
const triple = z
  .union([z.number(), z.array(z.number()).length(3), z.array(z.number()).length(1)])
  .transform((v): [number, number, number] => {
    if (typeof v === 'number') return [v, v, v];
    if (v.length === 1) return [v[0]!, v[0]!, v[0]!];
    return [v[0]!, v[1]!, v[2]!];
  });

const sizeSchema = z.union([
  positiveInt.transform((n): ResizeTarget => ({ kind: 'fixed', height: n, width: n })),
  z
    .object({ height: positiveInt, width: positiveInt })
    .transform((s): ResizeTarget => ({ kind: 'fixed', height: s.height, width: s.width })),
  z
    .object({ shortest_edge: positiveInt, longest_edge: positiveInt.optional() })
    .transform(
      (s): ResizeTarget =>
        s.longest_edge === undefined
          ? { kind: 'shortestEdge', shortestEdge: s.shortest_edge }
          : { kind: 'shortestEdge', shortestEdge: s.shortest_edge, longestEdge: s.longest_edge },
    ),
]);

const resampleSchema = z
  .number()
  .int()
  .refine((n) => Object.values(Resampling).includes(n as ResamplingFilter), {
    message: 'resample must be a Pillow filter id: 0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming',
  })
  .transform((n) => n as ResamplingFilter);

/** Defaults are those of `BlipImageProcessor` when a field is absent. */
export const processorConfigSchema = z
  .object({
    do_convert_rgb: z.boolean().nullish(),
    do_resize: z.boolean().nullish(),
    size: sizeSchema.nullish(),
    resample: resampleSchema.nullish(),
    do_rescale: z.boolean().nullish(),
    rescale_factor: z.number().positive().nullish(),
    do_normalize: z.boolean().nullish(),
    image_mean: triple.nullish(),
    image_std: triple.nullish(),
  })
  .refine((c) => !(c.image_std ?? CLIP_STD).some((s) => s === 0), { message: 'image_std must not contain 0' })
  .transform(
    (c): ProcessorConfig => ({
      doConvertRgb: c.do_convert_rgb ?? true,
      doResize: c.do_resize ?? true,
      size: c.size ?? { kind: 'fixed', height: 384, width: 384 },
      resample: c.resample ?? Resampling.BICUBIC,
      doRescale: c.do_rescale ?? true,
      rescaleFactor: c.rescale_factor ?? 1 / 255,
      doNormalize: c.do_normalize ?? true,
      imageMean: c.image_mean ?? CLIP_MEAN,
      imageStd: c.image_std ?? CLIP_STD,
    }),
  );

/** Validate an already-parsed `preprocessor_config.json` object. */
export function parseProcessorConfig(json: unknown, source = 'preprocessor_config.json'): ProcessorConfig {
  const parsed = processorConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
      .join('; ');
    throw new ProcessorConfigError(`${source} is invalid: ${issues}`, { cause: parsed.error });
  }
  return parsed.data;
}

/** Read and validate `<dir>/preprocessor_config.json`. */
export async function readProcessorConfig(dir: string): Promise<ProcessorConfig> {
  const file = path.join(dir, 'preprocessor_config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new ProcessorConfigError(`cannot read ${file}: ${(cause as Error).message}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ProcessorConfigError(`${file} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  return parseProcessorConfig(json, file);
}

/**
 * Output size (height, width) for an input of the given size, as Hugging Face's
 * `get_resize_output_image_size` computes it.
 */
export function resizeOutputSize(
  target: ResizeTarget,
  inWidth: number,
  inHeight: number,
): { height: number; width: number } {
  if (target.kind === 'fixed') return { height: target.height, width: target.width };
  const [short, long] = inWidth <= inHeight ? [inWidth, inHeight] : [inHeight, inWidth];
  let newShort = target.shortestEdge;
  let newLong = Math.trunc((target.shortestEdge * long) / short);
  if (target.longestEdge !== undefined && newLong > target.longestEdge) {
    newShort = Math.trunc((target.longestEdge * newShort) / newLong);
    newLong = target.longestEdge;
  }
  return inWidth <= inHeight
    ? { height: newLong, width: newShort }
    : { height: newShort, width: newLong };
}

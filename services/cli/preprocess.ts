import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { preprocessImage, readProcessorConfig } from '../blip/processing/index.js';
import { resolveModelDir } from '../blip/source/index.js';
import { runtimeEnv } from '../core/config.js';
import { DEFAULT_CAPTION_MODEL } from './defaults.js';
import { cliCommand, CliUsageError } from './errors.js';
import { readInputFile } from './image-inputs.js';

/**
 * `blipline preprocess IMAGE... --out DIR [--model DIR|HUB_ID] [--json]`: writes each image's model input
 * (the model's own preprocessor_config.json applied) as `DIR/<basename>.f32`, raw little-endian float32
 * `[1, 3, H, W]`, the format `--pixel-values` reads. Prints per image `{"image", "out", "width", "height",
 * "orientation", "format"}` (width and height of the written tensor; orientation the EXIF tag applied;
 * format the sniffed one) or `{"image", "error": {"code", "message"}}`; exit 1 if any image failed.
 */
export const PREPROCESS_USAGE = 'usage: blipline preprocess IMAGE... --out DIR [--model DIR|HUB_ID] [--json]';

const argsSchema = z.object({
  images: z.array(z.string().min(1)).min(1, 'no image given'),
  out: z.string({ error: '--out DIR is required' }).min(1, '--out DIR is required'),
  model: z.string().min(1).optional(),
  json: z.boolean(),
});

const OPTIONS = { out: { type: 'string' }, model: { type: 'string' }, json: { type: 'boolean', default: false } } as const;

function parsePreprocessArgs(argv: string[]): z.infer<typeof argsSchema> {
  const read = () => parseArgs({ args: argv, allowPositionals: true, strict: true, options: OPTIONS });
  let parsed: ReturnType<typeof read>;
  try {
    parsed = read();
  } catch (error) {
    throw new CliUsageError(`${(error as Error).message.split('\n')[0]} (${PREPROCESS_USAGE})`, { cause: error });
  }
  const result = argsSchema.safeParse({ images: parsed.positionals, ...parsed.values });
  if (!result.success) throw new CliUsageError(`${result.error.issues[0]?.message ?? 'invalid arguments'} (${PREPROCESS_USAGE})`);
  return result.data;
}

type Line =
  | { image: string; out: string; width: number; height: number; orientation: number; format: string }
  | { image: string; error: { code: string; message: string } };

function littleEndianBytes(values: Float32Array): Buffer {
  const bytes = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) bytes.writeFloatLE(values[i]!, 4 * i);
  return bytes;
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'failed';
}

export const runPreprocess = cliCommand('preprocess', async (argv: string[]): Promise<number> => {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${PREPROCESS_USAGE}\n`);
    return 0;
  }
  const args = parsePreprocessArgs(argv);
  const modelDir = await resolveModelDir(args.model ?? runtimeEnv('BLIPLINE_MODEL') ?? DEFAULT_CAPTION_MODEL);
  const processor = await readProcessorConfig(modelDir);
  await mkdir(args.out, { recursive: true });
  const written = new Set<string>();
  let failed = 0;
  for (const image of args.images) {
    let line: Line;
    const out = path.join(args.out, `${path.basename(image)}.f32`);
    try {
      if (written.has(out)) throw Object.assign(new Error(`another image already wrote ${out} (same file name)`), { code: 'duplicate_name' });
      const bytes = await readInputFile(image);
      const result = await preprocessImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), processor);
      await writeFile(out, littleEndianBytes(result.pixelValues));
      written.add(out);
      line = { image, out, width: result.width, height: result.height, orientation: result.orientation, format: result.source.format };
    } catch (error) {
      failed += 1;
      const message = (error as Error).message.split('\n')[0] ?? String(error);
      line = { image, error: { code: errorCode(error), message } };
    }
    if (args.json) process.stdout.write(`${JSON.stringify(line)}\n`);
    else if ('error' in line) process.stdout.write(`${image}: ${line.error.message}\n`);
    else process.stdout.write(`${image} -> ${line.out} (${line.width}x${line.height}, ${line.format}, orientation ${line.orientation})\n`);
  }
  return failed > 0 ? 1 : 0;
});

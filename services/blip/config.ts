import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { BlipCheckpointError } from './errors.js';

/**
 * `config.json` of a Hugging Face BLIP checkpoint. Field names are Hugging Face's; a field the file
 * leaves out takes the default of `BlipTextConfig` / `BlipVisionConfig`, exactly as `from_pretrained`
 * would. Nothing about the architecture is hard-coded anywhere else.
 */
const activationSchema = z.literal('gelu', { error: 'only hidden_act "gelu" (exact erf GELU) is supported' });

export const blipTextConfigSchema = z.object({
  vocab_size: z.number().int().positive().default(30524),
  hidden_size: z.number().int().positive().default(768),
  encoder_hidden_size: z.number().int().positive().default(768),
  intermediate_size: z.number().int().positive().default(3072),
  num_hidden_layers: z.number().int().positive().default(12),
  num_attention_heads: z.number().int().positive().default(8),
  max_position_embeddings: z.number().int().positive().default(512),
  hidden_act: activationSchema.default('gelu'),
  layer_norm_eps: z.number().positive().default(1e-12),
  pad_token_id: z.number().int().nonnegative().default(0),
  bos_token_id: z.number().int().nonnegative().default(30522),
  sep_token_id: z.number().int().nonnegative().default(102),
});

export const blipVisionConfigSchema = z.object({
  hidden_size: z.number().int().positive().default(768),
  intermediate_size: z.number().int().positive().default(3072),
  num_hidden_layers: z.number().int().positive().default(12),
  num_attention_heads: z.number().int().positive().default(12),
  image_size: z.number().int().positive().default(384),
  patch_size: z.number().int().positive().default(16),
  hidden_act: activationSchema.default('gelu'),
  layer_norm_eps: z.number().positive().default(1e-5),
});

const ARCHITECTURE_KINDS = {
  BlipForConditionalGeneration: 'captioning',
  BlipForQuestionAnswering: 'vqa',
  BlipForImageTextRetrieval: 'retrieval',
} as const;

export type BlipModelKind = (typeof ARCHITECTURE_KINDS)[keyof typeof ARCHITECTURE_KINDS];
type BlipArchitecture = keyof typeof ARCHITECTURE_KINDS;

export const blipConfigSchema = z.object({
  model_type: z.literal('blip', { error: 'model_type must be "blip"' }),
  architectures: z.array(z.string()).min(1),
  tie_word_embeddings: z.boolean().default(true),
  image_text_hidden_size: z.number().int().positive().default(256),
  text_config: blipTextConfigSchema.prefault({}),
  vision_config: blipVisionConfigSchema.prefault({}),
});

export type BlipTextConfig = z.infer<typeof blipTextConfigSchema>;
export type BlipVisionConfig = z.infer<typeof blipVisionConfigSchema>;
export type BlipConfig = z.infer<typeof blipConfigSchema> & { readonly kind: BlipModelKind };

function isKnownArchitecture(name: string): name is BlipArchitecture {
  return Object.hasOwn(ARCHITECTURE_KINDS, name);
}

function checkDivisible(what: string, width: number, heads: number): void {
  if (width % heads !== 0) {
    throw new BlipCheckpointError('invalid_config', `config.json: ${what} hidden_size ${width} is not divisible by ${heads} heads`);
  }
}

/** Validates parsed `config.json` content and derives the model kind from `architectures`. */
export function parseBlipConfig(raw: unknown, source = 'config.json'): BlipConfig {
  const parsed = blipConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join('.') || '(root)';
    throw new BlipCheckpointError('invalid_config', `${source}: ${where}: ${issue?.message ?? 'invalid'}`, {
      cause: parsed.error,
    });
  }
  const architecture = parsed.data.architectures.find(isKnownArchitecture);
  if (!architecture) {
    throw new BlipCheckpointError(
      'unsupported_architecture',
      `${source}: architectures ${JSON.stringify(parsed.data.architectures)} name no supported BLIP head ` +
        `(${Object.keys(ARCHITECTURE_KINDS).join(', ')})`,
    );
  }
  const { text_config: text, vision_config: vision } = parsed.data;
  checkDivisible('text_config', text.hidden_size, text.num_attention_heads);
  checkDivisible('vision_config', vision.hidden_size, vision.num_attention_heads);
  if (vision.image_size % vision.patch_size !== 0) {
    throw new BlipCheckpointError('invalid_config', `${source}: image_size ${vision.image_size} is not a multiple of patch_size ${vision.patch_size}`);
  }
  return { ...parsed.data, kind: ARCHITECTURE_KINDS[architecture] };
}

/** Reads and validates `<dir>/config.json`. */
export async function readBlipConfig(dir: string): Promise<BlipConfig> {
  const file = path.join(dir, 'config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new BlipCheckpointError('not_a_checkpoint', `${dir} is not a BLIP checkpoint: no readable config.json`, { cause: error });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new BlipCheckpointError('invalid_config', `${file} is not valid JSON`, { cause: error });
  }
  return parseBlipConfig(raw, file);
}

/** Number of patch positions plus the class token, as `BlipVisionEmbeddings` computes it. */
export function visionSequenceLength(vision: BlipVisionConfig): number {
  return (vision.image_size / vision.patch_size) ** 2 + 1;
}

/**
 * The BLIP tokenizer (BERT WordPiece + `[DEC]`/`[ENC]`) read from a checkpoint folder's
 * `tokenizer.json` and `tokenizer_config.json`, with Hugging Face semantics: `AutoTokenizer` of
 * transformers.js on the local folder. Only local files are read; nothing is fetched.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { z } from 'zod';
import { TokenizerError } from './errors.js';

/** The part of transformers.js' `PreTrainedTokenizer` used here. */
interface Tokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): number[];
  decode(ids: number[], options: { skip_special_tokens: boolean; clean_up_tokenization_spaces: boolean }): string;
  get_vocab(): Map<string, number>;
}

export { TokenizerError } from './errors.js';

export interface SpecialTokenIds {
  /** `[CLS]`: starts every encoded text. */
  cls: number;
  /** `[SEP]`: ends every encoded text; generation stops on it. */
  sep: number;
  /** `[PAD]`. */
  pad: number;
  /** `[DEC]`: the decoder's first token (bos). */
  bos: number;
  /** `[UNK]`. */
  unk: number;
}

export interface EncodeOptions {
  /** Truncate to at most this many ids, special tokens included. Default: the tokenizer's `model_max_length`. */
  maxLength?: number;
}

export interface DecodeOptions {
  /** Drop `[CLS]`, `[SEP]`, `[PAD]`, `[DEC]`, `[ENC]`... Default true. */
  skipSpecialTokens?: boolean;
  /**
   * Join punctuation and contractions (`dog ' s` -> `dog's`) as `clean_up_tokenization_spaces` does.
   * Default: the tokenizer_config.json setting, else false (what Hugging Face transformers 5 does).
   */
  cleanUp?: boolean;
}

export interface BlipTokenizer {
  readonly specialIds: Readonly<SpecialTokenIds>;
  /** Longest sequence the model accepts (`model_max_length`). */
  readonly modelMaxLength: number;
  /** Number of ids, added tokens included. */
  readonly vocabSize: number;
  /** `[CLS] tokens... [SEP]`, truncated as the reference tokenizer does with `truncation=True`. */
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: readonly number[], options?: DecodeOptions): string;
  tokenToId(token: string): number | undefined;
}

const tokenField = z.union([z.string(), z.object({ content: z.string() }).transform((t) => t.content)]);
const tokenizerConfigSchema = z
  .object({
    cls_token: tokenField.nullish(),
    sep_token: tokenField.nullish(),
    pad_token: tokenField.nullish(),
    bos_token: tokenField.nullish(),
    unk_token: tokenField.nullish(),
    model_max_length: z.number().positive().nullish(),
    clean_up_tokenization_spaces: z.boolean().nullish(),
  })
  .loose();

/** BERT's limit; used when tokenizer_config.json has no usable `model_max_length` (transformers writes 1e30 for "none"). */
const DEFAULT_MAX_LENGTH = 512;

async function readJson(file: string, required: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    if (!required && (cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TokenizerError(`cannot read ${file}: ${(cause as Error).message}`, { cause });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new TokenizerError(`${file} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
}

class HfBlipTokenizer implements BlipTokenizer {
  readonly specialIds: Readonly<SpecialTokenIds>;
  readonly modelMaxLength: number;
  readonly vocabSize: number;
  readonly #tokenizer: Tokenizer;
  readonly #vocab: Map<string, number>;
  readonly #cleanUp: boolean;
  /** Ids the post-processor puts before and after the text (`[CLS]` / `[SEP]` for BERT). */
  readonly #prefix: number[];
  readonly #suffix: number[];

  constructor(tokenizer: Tokenizer, specialIds: SpecialTokenIds, modelMaxLength: number, cleanUp: boolean) {
    this.#tokenizer = tokenizer;
    this.specialIds = Object.freeze(specialIds);
    this.modelMaxLength = modelMaxLength;
    this.#cleanUp = cleanUp;
    this.#vocab = tokenizer.get_vocab();
    this.vocabSize = this.#vocab.size;
    // The template wraps any text the same way; locate the text inside a probe encoding.
    const probe = 'a';
    const full = tokenizer.encode(probe);
    const inner = tokenizer.encode(probe, { add_special_tokens: false });
    const at = full.findIndex((_, i) => inner.every((id, j) => full[i + j] === id));
    if (at < 0) throw new TokenizerError('the tokenizer post-processor does not keep the text tokens contiguous');
    this.#prefix = full.slice(0, at);
    this.#suffix = full.slice(at + inner.length);
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const maxLength = options.maxLength ?? this.modelMaxLength;
    const budget = maxLength - this.#prefix.length - this.#suffix.length;
    if (!Number.isInteger(maxLength) || budget < 0) {
      throw new RangeError(`maxLength must be an integer of at least ${this.#prefix.length + this.#suffix.length}`);
    }
    const ids = this.#tokenizer.encode(text, { add_special_tokens: false });
    // Truncation strategy "longest_first" on a single text: keep the first tokens.
    return [...this.#prefix, ...ids.slice(0, budget), ...this.#suffix];
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    return this.#tokenizer.decode([...ids], {
      skip_special_tokens: options.skipSpecialTokens ?? true,
      clean_up_tokenization_spaces: options.cleanUp ?? this.#cleanUp,
    });
  }

  tokenToId(token: string): number | undefined {
    return this.#vocab.get(token);
  }
}

/** Load the tokenizer of a local checkpoint folder (`tokenizer.json` required, `tokenizer_config.json` optional). */
export async function loadTokenizer(dir: string): Promise<BlipTokenizer> {
  const tokenizerJson = await readJson(path.join(dir, 'tokenizer.json'), true);
  const rawConfig = (await readJson(path.join(dir, 'tokenizer_config.json'), false)) ?? {};
  const parsed = tokenizerConfigSchema.safeParse(rawConfig);
  if (!parsed.success) {
    throw new TokenizerError(`${path.join(dir, 'tokenizer_config.json')} is invalid: ${parsed.error.message}`, {
      cause: parsed.error,
    });
  }
  const config = parsed.data;
  if (typeof tokenizerJson !== 'object' || tokenizerJson === null || !('model' in tokenizerJson)) {
    throw new TokenizerError(`${path.join(dir, 'tokenizer.json')} is not a tokenizers file (no "model")`);
  }
  let tokenizer: Tokenizer;
  try {
    // Absolute folders only, never the Hub: model sources (services/blip/source) fetch checkpoints.
    env.allowRemoteModels = false;
    env.localModelPath = '/';
    tokenizer = await AutoTokenizer.from_pretrained(path.resolve(dir), { local_files_only: true });
  } catch (cause) {
    throw new TokenizerError(`cannot build the tokenizer from ${dir}: ${(cause as Error).message}`, { cause });
  }
  const vocab = tokenizer.get_vocab();
  const idOf = (role: string, token: string | null | undefined, fallback: string): number => {
    const name = token ?? fallback;
    const id = vocab.get(name);
    if (id === undefined) throw new TokenizerError(`the ${role} token ${name} is not in the vocabulary of ${dir}`);
    return id;
  };
  const specialIds: SpecialTokenIds = {
    cls: idOf('cls', config.cls_token, '[CLS]'),
    sep: idOf('sep', config.sep_token, '[SEP]'),
    pad: idOf('pad', config.pad_token, '[PAD]'),
    bos: idOf('bos', config.bos_token, '[DEC]'),
    unk: idOf('unk', config.unk_token, '[UNK]'),
  };
  const declaredMax = config.model_max_length;
  const modelMaxLength =
    declaredMax !== null && declaredMax !== undefined && Number.isInteger(declaredMax) && declaredMax <= 1_000_000
      ? declaredMax
      : DEFAULT_MAX_LENGTH;
  return new HfBlipTokenizer(tokenizer, specialIds, modelMaxLength, config.clean_up_tokenization_spaces ?? false);
}

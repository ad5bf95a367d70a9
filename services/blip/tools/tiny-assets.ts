// What a random-weight checkpoint needs besides its weights when no real checkpoint is at hand to
// copy them from: a tiny config (the fixture checkpoints' sizes), a BERT-style WordPiece
// tokenizer.json built deterministically (BERT's special-token ids, [DEC]/[ENC] at 30522/30523; the
// ordinary entries are single characters and made-up syllable words, not bert-base-uncased's
// vocabulary), and the BLIP image processor config. Text from such a checkpoint is meaningless.
import { baseConfig } from './base-configs.js';
import type { CheckpointKind } from './checkpoint-layout.js';

/** bert-base-uncased's vocabulary size; BLIP adds [DEC] and [ENC] (vocab_size 30524). */
const BASE_VOCAB = 30522;

/** A config with BLIP's structure and the tiny fixture sizes (2 vision layers of width 48, 3 text layers of width 32). */
export function tinyConfig(kind: CheckpointKind): Record<string, unknown> {
  const config = baseConfig(kind) as { text_config: Record<string, unknown>; vision_config: Record<string, unknown> } & Record<string, unknown>;
  return {
    ...config,
    image_text_hidden_size: 16,
    projection_dim: 16,
    text_config: { ...config.text_config, hidden_size: 32, encoder_hidden_size: 48, intermediate_size: 37, num_attention_heads: 4, num_hidden_layers: 3 },
    vision_config: { ...config.vision_config, hidden_size: 48, intermediate_size: 53, num_attention_heads: 4, num_hidden_layers: 2, projection_dim: 16 },
  };
}

const CONSONANTS = 'bcdfghjklmnprstvwxyz';
const VOWELS = 'aeiou';

/** The n-th made-up word: two or more consonant-vowel syllables (unique per n). */
function syllableWord(n: number): string {
  const syllable = (k: number) => `${CONSONANTS[Math.floor(k / VOWELS.length) % CONSONANTS.length]}${VOWELS[k % VOWELS.length]}`;
  const base = CONSONANTS.length * VOWELS.length;
  let word = '';
  let rest = n + base; // at least two syllables
  while (rest > 0) {
    word = syllable(rest % base) + word;
    rest = Math.floor(rest / base);
  }
  return word;
}

/** The vocabulary: ids 0..30521 as BERT lays out its special tokens, then [DEC] and [ENC] as added tokens. */
function vocabulary(): Record<string, number> {
  const tokens: string[] = ['[PAD]'];
  for (let i = 0; i < 99; i += 1) tokens.push(`[unused${i}]`);
  tokens.push('[UNK]', '[CLS]', '[SEP]', '[MASK]');
  const chars = [...'abcdefghijklmnopqrstuvwxyz0123456789', ...'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'];
  tokens.push(...chars, ...chars.map((c) => `##${c}`));
  for (let n = 0; tokens.length < BASE_VOCAB; n += 1) tokens.push(syllableWord(n));
  tokens.push('[DEC]', '[ENC]');
  return Object.fromEntries(tokens.map((token, id) => [token, id]));
}

const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

/** tokenizer.json (Hugging Face tokenizers format) of a lower-casing BERT WordPiece tokenizer. */
export function wordPieceTokenizerJson(): string {
  return `${JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '[PAD]'), special(100, '[UNK]'), special(101, '[CLS]'), special(102, '[SEP]'), special(103, '[MASK]'), special(30522, '[DEC]'), special(30523, '[ENC]')],
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: { '[CLS]': { id: '[CLS]', ids: [101], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [102], tokens: ['[SEP]'] } },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: vocabulary() },
  })}\n`;
}

/** The files `writeRandomCheckpoint` otherwise copies from an existing checkpoint, for a config with this image size. */
export function generatedAssetFiles(imageSize: number): Record<'tokenizer.json' | 'tokenizer_config.json' | 'preprocessor_config.json', string> {
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  return {
    'tokenizer.json': wordPieceTokenizerJson(),
    'tokenizer_config.json': json({
      backend: 'tokenizers',
      bos_token: '[DEC]',
      cls_token: '[CLS]',
      do_lower_case: true,
      extra_special_tokens: ['[ENC]'],
      mask_token: '[MASK]',
      model_max_length: 512,
      pad_token: '[PAD]',
      sep_token: '[SEP]',
      strip_accents: null,
      tokenize_chinese_chars: true,
      tokenizer_class: 'BertTokenizer',
      unk_token: '[UNK]',
    }),
    'preprocessor_config.json': json({
      do_convert_rgb: true,
      do_normalize: true,
      do_rescale: true,
      do_resize: true,
      image_mean: [0.48145466, 0.4578275, 0.40821073],
      image_processor_type: 'BlipImageProcessor',
      image_std: [0.26862954, 0.26130258, 0.27577711],
      resample: 3,
      rescale_factor: 1 / 255,
      size: { height: imageSize, width: imageSize },
    }),
  };
}

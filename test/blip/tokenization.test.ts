import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadTokenizer, TokenizerError, type BlipTokenizer } from '../../services/blip/tokenization/index.js';
import { captioningModelDir, fixturePath } from '../support/fixtures.js';

const referenceSchema = z.object({
  encode: z.array(z.object({ text: z.string(), input_ids: z.array(z.number().int()) })),
  decode: z.array(z.object({ ids: z.array(z.number().int()), skip_special_tokens: z.string(), raw: z.string() })),
});
const reference = referenceSchema.parse(JSON.parse(await readFile(fixturePath('tokenizer_reference.json'), 'utf8')));

let tokenizer: BlipTokenizer;
beforeAll(async () => {
  tokenizer = await loadTokenizer(captioningModelDir);
});

describe('BLIP tokenizer', () => {
  it('reads the special ids from the tokenizer files', () => {
    expect(tokenizer.specialIds).toEqual({ cls: 101, sep: 102, pad: 0, bos: 30522, unk: 100 });
    expect(tokenizer.modelMaxLength).toBe(512);
    expect(tokenizer.vocabSize).toBe(30524);
    expect(tokenizer.tokenToId('[ENC]')).toBe(30523);
  });

  for (const [i, c] of reference.encode.entries()) {
    it(`encodes reference case ${i} (${JSON.stringify(c.text.slice(0, 24))}) identically`, () => {
      expect(tokenizer.encode(c.text)).toEqual(c.input_ids);
    });
  }

  for (const [i, c] of reference.decode.entries()) {
    it(`decodes reference case ${i} identically`, () => {
      expect(tokenizer.decode(c.ids, { skipSpecialTokens: true })).toBe(c.skip_special_tokens);
      expect(tokenizer.decode(c.ids, { skipSpecialTokens: false })).toBe(c.raw);
    });
  }

  it('joins contractions and punctuation when asked to clean up', () => {
    expect(tokenizer.decode([30522, 1037, 3899, 1005, 1055, 5939, 1012, 102], { cleanUp: true })).toBe("a dog's ty.");
  });

  it('truncates to the model maximum, keeping [CLS] and [SEP]', () => {
    const long = 'dog '.repeat(600);
    const ids = tokenizer.encode(long);
    expect(ids.length).toBe(512);
    expect(ids[0]).toBe(101);
    expect(ids.at(-1)).toBe(102);
    expect(ids.slice(1, -1).every((id) => id === 3899)).toBe(true);
    expect(tokenizer.encode('a picture of a dog', { maxLength: 4 })).toEqual([101, 1037, 3861, 102]);
    expect(() => tokenizer.encode('a', { maxLength: 1 })).toThrow(RangeError);
  });

  it('fails clearly when tokenizer.json is missing or not a tokenizer', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'blipline-tok-'));
    try {
      await expect(loadTokenizer(dir)).rejects.toThrow(/tokenizer\.json/);
      await writeFile(path.join(dir, 'tokenizer.json'), '{"hello": 1}');
      const error = await loadTokenizer(dir).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TokenizerError);
      expect((error as TokenizerError).code).toBe('invalid_tokenizer');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

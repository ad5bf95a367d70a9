import { describe, expect, it } from 'vitest';
import { readBlipConfig } from '../../services/blip/config.js';
import { BlipUsageError } from '../../services/blip/errors.js';
import { parseAskOptions } from '../../services/blip/tasks/options.js';
import { encodeText, textLimit } from '../../services/blip/tasks/text-input.js';
import { encodeQuestion } from '../../services/blip/tasks/vqa.js';
import { loadTokenizer } from '../../services/blip/tokenization/index.js';
import { vqaModelDir, vqaReference } from '../support/task-fixtures.js';

// Question tokenization for VQA: as the Hugging Face processor (`[CLS] ... [SEP]`), blank questions
// refused, over-long ones truncated as `truncation=True` does (the tail of the text goes, [SEP] stays).

const config = await readBlipConfig(vqaModelDir);
const tokenizer = await loadTokenizer(vqaModelDir);
const parts = { config, tokenizer };

describe('VQA question input', () => {
  it('tokenizes every reference question to the reference input_ids', () => {
    for (const testCase of vqaReference()) {
      expect(encodeQuestion(parts, testCase.question)).toEqual({ ids: testCase.question_input_ids, truncated: false });
    }
  });

  it.each(['', '   ', '\n\t'])('refuses a blank question (%j) with a clear usage error', (question) => {
    expect(() => encodeQuestion(parts, question)).toThrow(BlipUsageError);
    expect(() => encodeQuestion(parts, question)).toThrow('the question is empty');
    try {
      encodeQuestion(parts, question);
    } catch (error) {
      expect((error as BlipUsageError).code).toBe('invalid_input');
    }
  });

  it("truncates an over-long question to the model's limit keeping [CLS] ... [SEP], as truncation=True does", () => {
    const limit = textLimit(tokenizer, config.text_config);
    expect(limit).toBe(512); // model_max_length 512, max_position_embeddings 512
    // "what is the person doing?" is 6 word pieces; 100 of them make 600 + 2 special tokens.
    const sentence = 'what is the person doing?';
    const long = Array.from({ length: 100 }, () => sentence).join(' ');
    const full = tokenizer.encode(long, { maxLength: 10_000 });
    expect(full).toHaveLength(602);
    const { ids, truncated } = encodeQuestion(parts, long);
    expect(truncated).toBe(true);
    expect(ids).toHaveLength(512);
    expect(ids[0]).toBe(tokenizer.specialIds.cls);
    expect(ids[511]).toBe(tokenizer.specialIds.sep);
    expect(ids).toEqual([...full.slice(0, 511), tokenizer.specialIds.sep]);
    // The first 510 word pieces are exactly 85 whole sentences.
    const kept = Array.from({ length: 85 }, () => sentence).join(' ');
    expect(encodeQuestion(parts, kept)).toEqual({ ids, truncated: false });
  });

  it('lets empty text through for scoring when asked (the processor gives [CLS] [SEP])', () => {
    expect(encodeText(tokenizer, config.text_config, '', 'text', { allowEmpty: true }).ids).toEqual([101, 102]);
  });
});

describe('ask options', () => {
  it('defaults to greedy with Hugging Face max_length 20 (19 new tokens after [DEC])', () => {
    expect(parseAskOptions(undefined, config.text_config)).toEqual({ beams: 1, maxNewTokens: 19 });
  });

  it.each([
    [{ beams: 0 }, 'beams'],
    [{ beams: 2.5 }, 'beams'],
    [{ maxNewTokens: 0 }, 'maxNewTokens'],
    [{ maxNewTokens: 600 }, 'maxNewTokens must be at most 511'],
    [{ temperature: 1 }, 'temperature'],
  ])('refuses %j naming the option', (options, message) => {
    expect(() => parseAskOptions(options, config.text_config)).toThrow(message);
    try {
      parseAskOptions(options, config.text_config);
    } catch (error) {
      expect(error).toBeInstanceOf(BlipUsageError);
      expect((error as BlipUsageError).code).toBe('invalid_option');
    }
  });
});

import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { fixturePath } from './fixtures.js';

/** References of the VQA and retrieval fixture checkpoints (blip-tiny-vqa, blip-tiny-retrieval). */

export const vqaModelDir = fixturePath('blip-tiny-vqa');
export const retrievalModelDir = fixturePath('blip-tiny-retrieval');

const idsSchema = z.array(z.number().int());

const vqaCaseSchema = z.object({
  image: z.string(),
  question: z.string(),
  question_input_ids: idsSchema,
  vision_last_hidden_state: z.string(),
  question_embeds: z.string(),
  greedy: z.object({ args: z.object({ max_new_tokens: z.number().int() }), output_ids: idsSchema, text: z.string() }),
  beam3: z.object({ args: z.object({ max_new_tokens: z.number().int(), num_beams: z.number().int() }), output_ids: idsSchema }),
  teacher_forced: z.object({ input_ids: idsSchema, logits: z.string() }),
});
export type VqaCase = z.infer<typeof vqaCaseSchema>;

export function vqaReference(): VqaCase[] {
  const raw: unknown = JSON.parse(readFileSync(fixturePath('blip-tiny-vqa/reference.json'), 'utf8'));
  return z.object({ cases: z.array(vqaCaseSchema).min(1) }).parse(raw).cases;
}

const retrievalCaseSchema = z.object({
  image: z.string(),
  text: z.string(),
  input_ids: idsSchema,
  itm_logits: z.tuple([z.number(), z.number()]),
  itc_cosine: z.tuple([z.number()]),
});
export type RetrievalCase = z.infer<typeof retrievalCaseSchema>;

export function retrievalReference(): RetrievalCase[] {
  const raw: unknown = JSON.parse(readFileSync(fixturePath('blip-tiny-retrieval/reference.json'), 'utf8'));
  return z.object({ cases: z.array(retrievalCaseSchema).min(1) }).parse(raw).cases;
}

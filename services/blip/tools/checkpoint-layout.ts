// The tensor names and shapes of Hugging Face BLIP checkpoints, as `save_pretrained` writes them
// (model.safetensors), derived from config.json alone. Used to write random-weight checkpoints at
// real sizes for benchmarks and fidelity measurements.
import { z } from 'zod';

export type CheckpointKind = 'captioning' | 'vqa' | 'retrieval';

export const ARCHITECTURE_OF_KIND: Record<CheckpointKind, string> = {
  captioning: 'BlipForConditionalGeneration',
  vqa: 'BlipForQuestionAnswering',
  retrieval: 'BlipForImageTextRetrieval',
};

/** The config.json fields the layout depends on. */
export const layoutConfigSchema = z.object({
  architectures: z.array(z.string()).min(1),
  image_text_hidden_size: z.number().int().positive(),
  text_config: z.object({
    vocab_size: z.number().int().positive(),
    hidden_size: z.number().int().positive(),
    encoder_hidden_size: z.number().int().positive(),
    intermediate_size: z.number().int().positive(),
    num_hidden_layers: z.number().int().positive(),
    max_position_embeddings: z.number().int().positive(),
  }),
  vision_config: z.object({
    hidden_size: z.number().int().positive(),
    intermediate_size: z.number().int().positive(),
    num_hidden_layers: z.number().int().positive(),
    image_size: z.number().int().positive(),
    patch_size: z.number().int().positive(),
    num_channels: z.number().int().positive().optional(),
  }),
});
export type LayoutConfig = z.infer<typeof layoutConfigSchema>;

/** How a tensor is initialised in a random checkpoint. */
export type TensorRole = 'matrix' | 'bias' | 'norm-weight' | 'norm-bias' | 'embedding';

export interface TensorSpec {
  name: string;
  shape: number[];
  role: TensorRole;
}

export function kindOfArchitecture(architecture: string): CheckpointKind {
  for (const [kind, arch] of Object.entries(ARCHITECTURE_OF_KIND)) if (arch === architecture) return kind as CheckpointKind;
  throw new RangeError(`not a BLIP architecture: ${architecture}`);
}

function linear(out: TensorSpec[], prefix: string, outWidth: number, inWidth: number): void {
  out.push({ name: `${prefix}.weight`, shape: [outWidth, inWidth], role: 'matrix' });
  out.push({ name: `${prefix}.bias`, shape: [outWidth], role: 'bias' });
}

function norm(out: TensorSpec[], prefix: string, width: number): void {
  out.push({ name: `${prefix}.weight`, shape: [width], role: 'norm-weight' });
  out.push({ name: `${prefix}.bias`, shape: [width], role: 'norm-bias' });
}

function visionTensors(out: TensorSpec[], c: LayoutConfig['vision_config']): void {
  const d = c.hidden_size;
  const channels = c.num_channels ?? 3;
  const tokens = (c.image_size / c.patch_size) ** 2 + 1;
  out.push({ name: 'vision_model.embeddings.class_embedding', shape: [1, 1, d], role: 'embedding' });
  out.push({ name: 'vision_model.embeddings.patch_embedding.weight', shape: [d, channels, c.patch_size, c.patch_size], role: 'matrix' });
  out.push({ name: 'vision_model.embeddings.patch_embedding.bias', shape: [d], role: 'bias' });
  out.push({ name: 'vision_model.embeddings.position_embedding', shape: [1, tokens, d], role: 'embedding' });
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `vision_model.encoder.layers.${i}`;
    norm(out, `${p}.layer_norm1`, d);
    norm(out, `${p}.layer_norm2`, d);
    linear(out, `${p}.mlp.fc1`, c.intermediate_size, d);
    linear(out, `${p}.mlp.fc2`, d, c.intermediate_size);
    linear(out, `${p}.self_attn.projection`, d, d);
    linear(out, `${p}.self_attn.qkv`, 3 * d, d);
  }
  norm(out, 'vision_model.post_layernorm', d);
}

/** BERT with cross-attention (BlipTextModel without pooler), under `prefix`. */
function bertTensors(out: TensorSpec[], prefix: string, c: LayoutConfig['text_config']): void {
  const d = c.hidden_size;
  norm(out, `${prefix}.embeddings.LayerNorm`, d);
  out.push({ name: `${prefix}.embeddings.position_embeddings.weight`, shape: [c.max_position_embeddings, d], role: 'embedding' });
  out.push({ name: `${prefix}.embeddings.word_embeddings.weight`, shape: [c.vocab_size, d], role: 'embedding' });
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `${prefix}.encoder.layer.${i}`;
    norm(out, `${p}.attention.output.LayerNorm`, d);
    linear(out, `${p}.attention.output.dense`, d, d);
    linear(out, `${p}.attention.self.key`, d, d);
    linear(out, `${p}.attention.self.query`, d, d);
    linear(out, `${p}.attention.self.value`, d, d);
    norm(out, `${p}.crossattention.output.LayerNorm`, d);
    linear(out, `${p}.crossattention.output.dense`, d, d);
    linear(out, `${p}.crossattention.self.key`, d, c.encoder_hidden_size);
    linear(out, `${p}.crossattention.self.query`, d, d);
    linear(out, `${p}.crossattention.self.value`, d, c.encoder_hidden_size);
    linear(out, `${p}.intermediate.dense`, c.intermediate_size, d);
    norm(out, `${p}.output.LayerNorm`, d);
    linear(out, `${p}.output.dense`, d, c.intermediate_size);
  }
}

function lmHeadTensors(out: TensorSpec[], c: LayoutConfig['text_config']): void {
  out.push({ name: 'text_decoder.cls.predictions.bias', shape: [c.vocab_size], role: 'bias' });
  norm(out, 'text_decoder.cls.predictions.transform.LayerNorm', c.hidden_size);
  linear(out, 'text_decoder.cls.predictions.transform.dense', c.hidden_size, c.hidden_size);
}

/**
 * Every tensor of the checkpoint, sorted by name as safetensors stores them. The LM head's
 * decoder weight is tied to the word embeddings and, as in the published checkpoints, not stored.
 */
export function checkpointLayout(config: LayoutConfig): TensorSpec[] {
  const kind = kindOfArchitecture(config.architectures[0]!);
  const out: TensorSpec[] = [];
  visionTensors(out, config.vision_config);
  if (kind === 'captioning' || kind === 'vqa') {
    bertTensors(out, 'text_decoder.bert', config.text_config);
    lmHeadTensors(out, config.text_config);
  }
  if (kind === 'vqa' || kind === 'retrieval') bertTensors(out, 'text_encoder', config.text_config);
  if (kind === 'retrieval') {
    linear(out, 'itm_head', 2, config.text_config.hidden_size);
    linear(out, 'text_proj', config.image_text_hidden_size, config.text_config.hidden_size);
    linear(out, 'vision_proj', config.image_text_hidden_size, config.vision_config.hidden_size);
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function parameterCount(layout: readonly TensorSpec[]): number {
  return layout.reduce((sum, t) => sum + t.shape.reduce((p, d) => p * d, 1), 0);
}

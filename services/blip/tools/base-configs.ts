// config.json of the published BLIP-base checkpoints (Salesforce/blip-image-captioning-base,
// Salesforce/blip-vqa-base, Salesforce/blip-itm-base-coco) in the form transformers 5 saves them:
// ViT-B/16 at 384 px (width 768, 12 heads, 12 layers, MLP 3072), BERT-base text (width 768,
// 12 heads, 12 layers, intermediate 3072, vocabulary 30524 = bert-base-uncased + [DEC] + [ENC]).
import { ARCHITECTURE_OF_KIND, type CheckpointKind } from './checkpoint-layout.js';

export type ShapePreset = 'base';

export function baseConfig(kind: CheckpointKind): Record<string, unknown> {
  return {
    architectures: [ARCHITECTURE_OF_KIND[kind]],
    dtype: 'float32',
    image_text_hidden_size: 256,
    initializer_factor: 1.0,
    initializer_range: 0.02,
    label_smoothing: 0.0,
    logit_scale_init_value: 2.6592,
    model_type: 'blip',
    projection_dim: 512,
    text_config: {
      attention_probs_dropout_prob: 0.0,
      bos_token_id: 30522,
      encoder_hidden_size: 768,
      eos_token_id: 2,
      hidden_act: 'gelu',
      hidden_dropout_prob: 0.0,
      hidden_size: 768,
      initializer_range: 0.02,
      intermediate_size: 3072,
      is_decoder: true,
      label_smoothing: 0.0,
      layer_norm_eps: 1e-12,
      max_position_embeddings: 512,
      model_type: 'blip_text_model',
      num_attention_heads: 12,
      num_hidden_layers: 12,
      pad_token_id: 0,
      projection_dim: 768,
      sep_token_id: 102,
      tie_word_embeddings: true,
      use_cache: true,
      vocab_size: 30524,
    },
    tie_word_embeddings: true,
    transformers_version: '5.17.0',
    vision_config: {
      attention_dropout: 0.0,
      hidden_act: 'gelu',
      hidden_size: 768,
      image_size: 384,
      initializer_range: 0.02,
      intermediate_size: 3072,
      layer_norm_eps: 1e-5,
      model_type: 'blip_vision_model',
      num_attention_heads: 12,
      num_hidden_layers: 12,
      patch_size: 16,
      projection_dim: 512,
    },
  };
}

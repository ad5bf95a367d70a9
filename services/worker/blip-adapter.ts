import type { BlipModel } from '../blip/index.js';
import { captionModelKey } from '../core/keys.js';
import { ImageInputError } from '../blip/processing/errors.js';
import type { Captioner, Outcome, QuestionAnswerer } from './captioner.js';

function badImage(error: ImageInputError): Outcome {
  return { ok: false, reason: error.code, message: error.message };
}

/**
 * Captioner over the BLIP runtime. A batch is one `caption()` call; when one of its images is not
 * decodable the runtime rejects the whole call, so the batch is then retried image by image to
 * give each its own outcome. `precision` (what the model was loaded with) goes into the dedup key.
 */
export function blipCaptioner(model: BlipModel, options: { precision?: 'fp32' | 'int8' } = {}): Captioner {
  return {
    name: model.name,
    dedupKey: captionModelKey(model.name, options.precision ?? 'fp32', model.checkpointSha256),
    precision: options.precision ?? 'fp32',
    async caption(images, options = {}) {
      const captionOptions = options.prompt ? { prompt: options.prompt } : {};
      try {
        const results = await model.caption(images, captionOptions);
        return results.map((r) => ({ ok: true, generation: { text: r.text, tokenIds: r.tokenIds } }));
      } catch (error) {
        if (!(error instanceof ImageInputError)) throw error;
        if (images.length === 1) return [badImage(error)];
      }
      const outcomes: Outcome[] = [];
      for (const image of images) {
        try {
          const [r] = await model.caption([image], captionOptions);
          outcomes.push(r ? { ok: true, generation: { text: r.text, tokenIds: r.tokenIds } } : { ok: false, reason: 'processing_error', message: 'the model returned no result' });
        } catch (error) {
          if (!(error instanceof ImageInputError)) throw error;
          outcomes.push(badImage(error));
        }
      }
      return outcomes;
    },
  };
}

/** QuestionAnswerer over a BLIP VQA checkpoint. */
export function blipAnswerer(model: BlipModel): QuestionAnswerer {
  return {
    name: model.name,
    async ask(image, question) {
      try {
        const [r] = await model.ask([image], question);
        if (!r) return { ok: false, reason: 'processing_error', message: 'the model returned no answer' };
        return { ok: true, generation: { text: r.text, tokenIds: r.tokenIds } };
      } catch (error) {
        if (error instanceof ImageInputError) return badImage(error);
        throw error;
      }
    },
  };
}

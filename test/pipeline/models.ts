import path from 'node:path';
import { loadBlip, type BlipModel } from '../../services/blip/index.js';
import { blipAnswerer, blipCaptioner } from '../../services/worker/blip-adapter.js';
import type { Captioner, Outcome, QuestionAnswerer } from '../../services/worker/captioner.js';
import { fixturesDir } from '../support/fixtures.js';

/** Counts the images passed to the model (each is one inference) and the model calls. */
export class Counting implements Captioner {
  images = 0;
  calls = 0;
  constructor(private readonly inner: Captioner) {}
  get name() {
    return this.inner.name;
  }
  get dedupKey() {
    return this.inner.dedupKey;
  }
  async caption(images: Uint8Array[], options?: { prompt?: string }): Promise<Outcome[]> {
    this.calls += 1;
    this.images += images.length;
    return this.inner.caption(images, options);
  }
}

export const captioningFixture = path.join(fixturesDir, 'blip-tiny-captioning');
export const vqaFixture = path.join(fixturesDir, 'blip-tiny-vqa');

/** The real BLIP runtime on the tiny fixture checkpoints, behind the worker's interfaces. */
export async function loadModels(): Promise<{ captioner: Captioner; answerer: QuestionAnswerer; models: BlipModel[] }> {
  const [caption, vqa] = await Promise.all([loadBlip({ model: captioningFixture, threads: 1 }), loadBlip({ model: vqaFixture, threads: 1 })]);
  return { captioner: blipCaptioner(caption), answerer: blipAnswerer(vqa), models: [caption, vqa] };
}

/** Only the captioning fixture model. */
export async function loadCaptioner(): Promise<{ captioner: Captioner; model: BlipModel }> {
  const model = await loadBlip({ model: captioningFixture, threads: 1 });
  return { captioner: blipCaptioner(model), model };
}

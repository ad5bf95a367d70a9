/**
 * The worker image's size budget (Dockerfile.inference's runtime stage), measured without Docker by
 * test/infra/dockerfile.test.ts: it assembles the runtime stage's contents in a folder (the production install
 * pruned as runtime-deps does, the bundle, package.json and the models prepared by the models stage's own
 * commands on the tiny fixture checkpoints) and adds the figures below for the base image and BLIP-base.
 */

const MB = 1_000_000;

/** The runtime stage's own contents with the fixture models (node_modules, dist, /models): the test's budget. */
export const RUNTIME_CONTENTS_BUDGET_BYTES = 200 * MB;

/** The goal for the whole image, uncompressed, with BLIP-base captioning + VQA at int8 (issue 17). */
export const IMAGE_GOAL_BYTES = 1500 * MB;

/**
 * node:22.23.3-bookworm-slim, uncompressed; not measured here (no Docker): debian:bookworm-slim 74.8 MB, the
 * Node 22.23.3 linux-x64 binary 124.8 MB (measured: the `node` dev dependency's binary), npm, corepack, yarn and
 * headers about 35 MB. `docker image inspect` gives the exact figure.
 */
export const BASE_IMAGE_BYTES = 235 * MB;

/**
 * Compiled int8 graphs of BLIP-base, measured: `loadBlip({precision: 'int8'})` on checkpoints with the published
 * tensor names and shapes (services/blip/tools/random-checkpoint.ts, 224.0M parameters for captioning, 361.2M
 * for VQA; the graphs' sizes depend on the shapes only). The fp32 checkpoints they replace in the image are
 * 896 MB and 1,445 MB.
 */
export const BLIP_BASE_INT8_GRAPH_BYTES = { captioning: 256_054_435, vqa: 395_259_354 } as const;

/** config.json, preprocessor_config.json, tokenizer.json (bert-base-uncased, 711 KB), tokenizer_config.json of both models. */
export const BLIP_BASE_MODEL_FILES_BYTES = 1_500_000;

/** The whole image with BLIP-base captioning + VQA int8, given the measured packages and bundle. */
export function blipBaseImageBytes(packagesAndBundleBytes: number): number {
  return BASE_IMAGE_BYTES + packagesAndBundleBytes + BLIP_BASE_INT8_GRAPH_BYTES.captioning + BLIP_BASE_INT8_GRAPH_BYTES.vqa + BLIP_BASE_MODEL_FILES_BYTES;
}

export const mb = (bytes: number): string => `${(bytes / MB).toFixed(0)} MB`;

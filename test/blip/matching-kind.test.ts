import { copyFile, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../services/blip/checkpoint/index.js';
import { BlipCheckpointError, loadBlip } from '../../services/blip/index.js';
import { headInWeights } from '../../services/blip/modeling/graphs.js';
import { captioningModelDir } from '../support/fixtures.js';
import { retrievalModelDir, vqaModelDir } from '../support/task-fixtures.js';

// Which head a checkpoint has: config.json `architectures` names it, its tensors must agree.

const scratch = await mkdtemp(path.join(os.tmpdir(), 'blipline-kind-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

/** A checkpoint folder with the files of `weightsFrom` but the config.json of `configFrom`. */
async function mislabelled(name: string, weightsFrom: string, configFrom: string): Promise<string> {
  const dir = path.join(scratch, name);
  await mkdir(dir);
  for (const file of ['model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'preprocessor_config.json']) {
    await symlink(path.join(weightsFrom, file), path.join(dir, file));
  }
  await copyFile(path.join(configFrom, 'config.json'), path.join(dir, 'config.json'));
  return dir;
}

describe('checkpoint head detection', () => {
  it.each([
    [captioningModelDir, 'captioning'],
    [vqaModelDir, 'vqa'],
    [retrievalModelDir, 'retrieval'],
  ])('finds the head of %s from its tensor names: %s', async (dir, kind) => {
    expect(headInWeights(await SafetensorsFile.open(path.join(dir, 'model.safetensors')))).toBe(kind);
  });

  it.each([
    ['retrieval weights labelled VQA', retrievalModelDir, vqaModelDir, 'a vqa checkpoint) but model.safetensors holds the tensors of a retrieval checkpoint'],
    ['VQA weights labelled captioning', vqaModelDir, captioningModelDir, 'a captioning checkpoint) but model.safetensors holds the tensors of a vqa checkpoint'],
  ])('refuses %s in one line', async (name, weightsFrom, configFrom, message) => {
    const dir = await mislabelled(name.replaceAll(' ', '-'), weightsFrom, configFrom);
    const error = await loadBlip({ model: dir, cacheDir: path.join(scratch, 'cache'), threads: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BlipCheckpointError);
    expect((error as BlipCheckpointError).code).toBe('invalid_weights');
    expect((error as Error).message).toContain(message);
    expect((error as Error).message).not.toContain('\n');
  });
});

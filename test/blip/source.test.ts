import { statSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ModelSourceError,
  parseHubId,
  resolveModelDir,
  type DownloadProgress,
} from '../../services/blip/source/index.js';
import { type FakeRepo, startFakeHub } from '../support/fake-hub.js';
import { captioningModelDir } from '../support/fixtures.js';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const fixtureRepo = (...files: string[]): FakeRepo =>
  Object.fromEntries(files.map((f) => [f, path.join(captioningModelDir, f)]));
const ALL_FIXTURE_FILES = [
  'config.json',
  'generation_config.json',
  'model.safetensors',
  'preprocessor_config.json',
  'reference.json',
  'tokenizer.json',
  'tokenizer_config.json',
];

const savedEnv = { HF_ENDPOINT: process.env.HF_ENDPOINT, HF_TOKEN: process.env.HF_TOKEN };
let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'blipline-source-'));
});
afterEach(() => {
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function sourceError(promise: Promise<unknown>): Promise<ModelSourceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ModelSourceError);
  return error as ModelSourceError;
}

describe('local model folders', () => {
  it('accepts a checkpoint folder as it is', async () => {
    expect(await resolveModelDir(captioningModelDir)).toBe(captioningModelDir);
  });

  it('names every missing file', async () => {
    const dir = path.join(work, 'partial');
    await mkdir(dir);
    await copyFile(path.join(captioningModelDir, 'config.json'), path.join(dir, 'config.json'));
    const err = await sourceError(resolveModelDir(dir));
    expect(err.code).toBe('not_a_checkpoint');
    expect(err.message).toMatch(/missing preprocessor_config\.json, tokenizer\.json, tokenizer_config\.json, model\.safetensors \(or /);
    expect(err.message).not.toMatch(/\n/);
  });

  it('checks the shards of a sharded checkpoint', async () => {
    const dir = path.join(work, 'sharded-local');
    await mkdir(dir);
    for (const f of ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json']) {
      await copyFile(path.join(captioningModelDir, f), path.join(dir, f));
    }
    await writeFile(
      path.join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } }),
    );
    await copyFile(path.join(captioningModelDir, 'model.safetensors'), path.join(dir, 'model-00001-of-00002.safetensors'));
    const err = await sourceError(resolveModelDir(dir));
    expect(err.message).toContain('model-00002-of-00002.safetensors');
    expect(err.message).not.toContain('model-00001');
  });

  it('rejects something that is neither a folder nor a Hub id', async () => {
    expect((await sourceError(resolveModelDir('./no/such/folder'))).code).toBe('invalid_model');
    expect((await sourceError(resolveModelDir('not a model'))).code).toBe('invalid_model');
    expect(parseHubId('Salesforce/blip-image-captioning-base')).toEqual({ repo: 'Salesforce/blip-image-captioning-base', revision: 'main' });
    expect(parseHubId('acme/blip@v1.0')).toEqual({ repo: 'acme/blip', revision: 'v1.0' });
  });
});

describe('Hugging Face Hub ids', () => {
  it('downloads only the files BLIP needs, once, then serves them from the cache', async () => {
    const hub = await startFakeHub({ 'acme/blip-tiny': fixtureRepo(...ALL_FIXTURE_FILES) });
    try {
      process.env.HF_ENDPOINT = hub.url;
      process.env.HF_TOKEN = 'hf_fixture_token';
      const cacheDir = path.join(work, 'cache-1');
      const progress: DownloadProgress[] = [];
      const dir = await resolveModelDir('acme/blip-tiny', { cacheDir, onProgress: (p) => progress.push(p) });
      expect(dir).toBe(path.join(cacheDir, 'acme--blip-tiny', 'main'));

      const files = (await readdir(dir)).filter((f) => !f.startsWith('.')).sort();
      expect(files).toEqual(ALL_FIXTURE_FILES.filter((f) => f !== 'reference.json'));
      for (const f of files) {
        expect((await readFile(path.join(dir, f))).equals(await readFile(path.join(captioningModelDir, f)))).toBe(true);
      }
      const weightSize = statSync(path.join(captioningModelDir, 'model.safetensors')).size;
      const weights = progress.filter((p) => p.file === 'model.safetensors');
      expect(weights.at(-1)).toEqual({ file: 'model.safetensors', loaded: weightSize, total: weightSize });
      expect(hub.requests.length).toBeGreaterThan(0);
      expect(hub.requests.every((r) => r.authorization === 'Bearer hf_fixture_token')).toBe(true);
      expect(hub.requests.some((r) => r.url.includes('reference.json'))).toBe(false);
      // Nothing left behind but the finished folder.
      expect(await readdir(cacheDir)).toEqual(['acme--blip-tiny']);

      const before = hub.requests.length;
      progress.length = 0;
      expect(await resolveModelDir('acme/blip-tiny', { cacheDir, onProgress: (p) => progress.push(p) })).toBe(dir);
      expect(hub.requests.length).toBe(before);
      expect(progress).toEqual([]);
    } finally {
      await hub.close();
    }
  });

  it('follows a sharded safetensors index and a pinned revision', async () => {
    const shardDir = path.join(work, 'shard-source');
    await mkdir(shardDir);
    const index = path.join(shardDir, 'model.safetensors.index.json');
    await writeFile(index, JSON.stringify({ metadata: {}, weight_map: { w: 'model-00001-of-00001.safetensors' } }));
    const hub = await startFakeHub({
      'acme/blip-sharded': {
        ...fixtureRepo('config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json'),
        'model.safetensors.index.json': index,
        'model-00001-of-00001.safetensors': path.join(captioningModelDir, 'model.safetensors'),
      },
    });
    try {
      process.env.HF_ENDPOINT = hub.url;
      delete process.env.HF_TOKEN;
      const cacheDir = path.join(work, 'cache-2');
      const dir = await resolveModelDir('acme/blip-sharded@v1', { cacheDir });
      expect(dir).toBe(path.join(cacheDir, 'acme--blip-sharded', 'v1'));
      expect((await readdir(dir)).sort()).toContain('model-00001-of-00001.safetensors');
      expect(hub.requests.some((r) => r.url.startsWith('/api/models/acme/blip-sharded/tree/v1'))).toBe(true);
      expect(hub.requests.length).toBeGreaterThan(0);
      expect(hub.requests.every((r) => r.authorization === undefined)).toBe(true);
    } finally {
      await hub.close();
    }
  });

  it('downloads pytorch_model.bin when a repository ships no safetensors weights', async () => {
    const binDir = path.join(work, 'bin-source');
    await mkdir(binDir);
    const bin = path.join(binDir, 'pytorch_model.bin');
    await writeFile(bin, Buffer.from('PK stand-in: the loader, not the download, reads it'));
    const hub = await startFakeHub({
      'acme/blip-bin': {
        ...fixtureRepo('config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json'),
        'pytorch_model.bin': bin,
        'tf_model.h5': bin,
      },
    });
    try {
      process.env.HF_ENDPOINT = hub.url;
      delete process.env.HF_TOKEN;
      const dir = await resolveModelDir('acme/blip-bin', { cacheDir: path.join(work, 'cache-bin') });
      const files = (await readdir(dir)).filter((f) => !f.startsWith('.')).sort();
      expect(files).toEqual(['config.json', 'preprocessor_config.json', 'pytorch_model.bin', 'tokenizer.json', 'tokenizer_config.json']);
    } finally {
      await hub.close();
    }
  });

  it('names what a Hub repository lacks, and reports unknown repositories', async () => {
    const hub = await startFakeHub({ 'acme/no-tokenizer': fixtureRepo('config.json', 'model.safetensors', 'preprocessor_config.json') });
    try {
      process.env.HF_ENDPOINT = hub.url;
      const cacheDir = path.join(work, 'cache-3');
      const lacking = await sourceError(resolveModelDir('acme/no-tokenizer', { cacheDir }));
      expect(lacking.code).toBe('not_a_checkpoint');
      expect(lacking.message).toContain('tokenizer.json');
      const unknown = await sourceError(resolveModelDir('acme/nothing-here', { cacheDir }));
      expect(unknown.code).toBe('hub_not_found');
      expect(unknown.message).toContain('acme/nothing-here');
    } finally {
      await hub.close();
    }
  });

  it('says how to use a local folder when the Hub is unreachable', async () => {
    process.env.HF_ENDPOINT = `http://127.0.0.1:${await closedPort()}`;
    const cacheDir = path.join(work, 'cache-4');
    const err = await sourceError(resolveModelDir('Salesforce/blip-image-captioning-base', { cacheDir }));
    expect(err.code).toBe('hub_unreachable');
    expect(err.message).toContain('--model /path/to/local/checkpoint');
    expect(err.message).toContain('Salesforce/blip-image-captioning-base');
    expect(err.message).toContain('no folder');
    expect(err.message).not.toMatch(/\n/);
    // No half-written cache entry.
    expect((await readdir(cacheDir).catch(() => [])).filter((f) => f !== '')).toEqual([]);
  });
});

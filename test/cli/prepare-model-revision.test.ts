import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeRepo, startFakeHub } from '../support/fake-hub.js';
import { scratchCli } from '../support/cli.js';
import { captioningModelDir } from '../support/fixtures.js';

const cli = await scratchCli('blipline-cli-revision-');
const fixture = (...files: string[]): FakeRepo => Object.fromEntries(files.map((f) => [f, path.join(captioningModelDir, f)]));
const SHA = '0123456789abcdef0123456789abcdef01234567';

let hub: Awaited<ReturnType<typeof startFakeHub>>;
beforeAll(async () => {
  hub = await startFakeHub({
    [`acme/blip-tiny@v1.0`]: fixture('config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'),
    [`acme/blip-tiny@${SHA}`]: fixture('config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'),
    // An older revision with PyTorch weights only (the bytes do not matter: nothing may be downloaded).
    [`acme/blip-tiny@v0.9`]: { ...fixture('config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json'), 'tf_model.h5': path.join(captioningModelDir, 'model.safetensors') },
  });
});
afterAll(async () => {
  await hub.close();
});

const prepare = (model: string, out: string) =>
  cli.run(['prepare-model', '--model', model, '--out', path.join(cli.dir, out)], { HF_ENDPOINT: hub.url, BLIPLINE_HUB_CACHE: path.join(cli.dir, 'hub') });
/** Paths (no query) of the requests for one revision, each once. */
const requestsFor = (revision: string) => [
  ...new Set(hub.requests.map((r) => new URL(r.url, hub.url).pathname).filter((p) => p.includes(`/${revision}/`) || p.endsWith(`/${revision}`))),
];

describe('prepare-model with a pinned Hub revision (owner/name@revision)', { timeout: 180_000 }, () => {
  it('downloads and compiles exactly the pinned tag, and records the revision beside the checkpoint', async () => {
    const run = await prepare('acme/blip-tiny@v1.0', 'tag');
    expect(run.code, run.stderr).toBe(0);
    // Named as the stack names it, so the API's and the worker's records agree.
    expect(JSON.parse(run.stdout)).toMatchObject({ model: 'acme/blip-tiny@v1.0', kind: 'captioning' });
    const marker = JSON.parse(await readFile(path.join(cli.dir, 'tag', '.blipline-download.json'), 'utf8')) as { repo: string; revision: string };
    expect(marker).toMatchObject({ repo: 'acme/blip-tiny', revision: 'v1.0' });
    const urls = requestsFor('v1.0');
    expect(urls).toContain('/api/models/acme/blip-tiny/tree/v1.0');
    expect(urls.filter((u) => u.includes('/resolve/v1.0/')).map((u) => u.split('/').pop()).sort()).toEqual([
      'config.json',
      'model.safetensors',
      'preprocessor_config.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
  });

  it('takes a commit sha as the revision', async () => {
    const run = await prepare(`acme/blip-tiny@${SHA}`, 'sha');
    expect(run.code, run.stderr).toBe(0);
    const marker = JSON.parse(await readFile(path.join(cli.dir, 'sha', '.blipline-download.json'), 'utf8')) as { revision: string };
    expect(marker.revision).toBe(SHA);
    expect(JSON.parse(run.stdout)).toMatchObject({ model: `acme/blip-tiny@${SHA}` });
  });

  it('a revision without the files blipline reads fails up front with one line: what is missing, what would work', async () => {
    const run = await prepare('acme/blip-tiny@v0.9', 'old');
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^blipline prepare-model: acme\/blip-tiny@v0\.9 .*missing model\.safetensors/);
    expect(lines[0]).toContain('it has tf_model.h5 instead');
    expect(lines[0]).toContain('pin a revision that has model.safetensors or pytorch_model.bin');
    // Checked from the listing: nothing of that revision was downloaded.
    expect(requestsFor('v0.9').filter((u) => u.includes('/resolve/'))).toEqual([]);
  });

  it('a revision that does not exist fails with one line saying what a revision may be', async () => {
    const run = await prepare('acme/blip-tiny@v2', 'missing');
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('acme/blip-tiny@v2 was not found');
    expect(lines[0]).toContain('a commit sha, a tag or a branch');
  });
});

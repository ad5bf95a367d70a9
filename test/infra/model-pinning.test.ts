import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../lib/config.js';
import { StackConfigError } from '../../lib/errors.js';
import { synthBlipline } from './support.js';

const SHA = '82a1a2f4d4c3d5e6f7a8b9c0d1e2f3a4b5c6d7e8';
const TOKEN_VALUE = `hf_${'x'.repeat(30)}pinning-test`;

interface DockerImageSource {
  dockerBuildArgs?: Record<string, string>;
  dockerBuildSecrets?: Record<string, string>;
}
const imageSource = (outdir: string, stackName: string): DockerImageSource | undefined => {
  const assets = JSON.parse(readFileSync(path.join(outdir, `${stackName}.assets.json`), 'utf8')) as { dockerImages: Record<string, { source: DockerImageSource }> };
  return Object.values(assets.dockerImages)[0]?.source;
};
/** Every file CDK wrote (template, manifests), as text. */
const everythingWritten = (dir: string): string =>
  readdirSync(dir)
    .map((name) => path.join(dir, name))
    .filter((file) => statSync(file).isFile())
    .map((file) => readFileSync(file, 'utf8'))
    .join('\n');

describe('captionModel / vqaModel pinned to a revision', () => {
  it('accepts owner/name@revision with a commit sha or a tag', () => {
    const c = resolveConfig({ captionModel: `Salesforce/blip-image-captioning-base@${SHA}`, vqaModel: 'Salesforce/blip-vqa-base@v1.0' });
    expect([c.captionModel, c.vqaModel]).toEqual([`Salesforce/blip-image-captioning-base@${SHA}`, 'Salesforce/blip-vqa-base@v1.0']);
  });

  it.each([
    ['an empty revision', { captionModel: 'acme/blip@' }, /captionModel "acme\/blip@" is not a Hugging Face Hub id; use 'owner\/name', or 'owner\/name@revision' pinned to a commit sha or tag/],
    ['a path escape', { vqaModel: 'acme/blip@../../x' }, /vqaModel "acme\/blip@..\/..\/x" is not a Hugging Face Hub id/],
    ['a token variable that is no name', { modelAccessToken: { env: 'HF TOKEN' } }, /modelAccessToken\.env "HF TOKEN" is not an environment variable name/],
  ])('rejects %s, saying what to change', (_name, props, message) => {
    expect(() => resolveConfig(props)).toThrow(StackConfigError);
    expect(() => resolveConfig(props)).toThrow(message);
  });

  it('reaches the image build as build arguments; the token only as the build secret hf_token, never its value', () => {
    process.env.BLIPLINE_TEST_HF_TOKEN = TOKEN_VALUE;
    const s = synthBlipline({
      bundling: false,
      props: { captionModel: `acme/blip-caption@${SHA}`, vqaModel: 'acme/blip-vqa@v2.1', modelAccessToken: { env: 'BLIPLINE_TEST_HF_TOKEN' } },
    });
    try {
      const image = imageSource(s.outdir, s.stack.stackName);
      expect(image?.dockerBuildArgs).toEqual({ CAPTION_MODEL: `acme/blip-caption@${SHA}`, VQA_MODEL: 'acme/blip-vqa@v2.1', PRECISION: 'int8' });
      expect(image?.dockerBuildSecrets).toEqual({ hf_token: 'env=BLIPLINE_TEST_HF_TOKEN' });
      expect(everythingWritten(s.outdir)).not.toContain(TOKEN_VALUE);
    } finally {
      delete process.env.BLIPLINE_TEST_HF_TOKEN;
      rmSync(s.outdir, { recursive: true, force: true });
    }
  });

  it('a token file is passed by path (Docker reads it at build time); public models get no secret', () => {
    const withFile = synthBlipline({ bundling: false, props: { modelAccessToken: { file: '/secure/hf-token' } } });
    const plain = synthBlipline({ bundling: false });
    try {
      expect(imageSource(withFile.outdir, withFile.stack.stackName)?.dockerBuildSecrets).toEqual({ hf_token: 'src=/secure/hf-token' });
      expect(imageSource(plain.outdir, plain.stack.stackName)?.dockerBuildSecrets).toBeUndefined();
    } finally {
      rmSync(withFile.outdir, { recursive: true, force: true });
      rmSync(plain.outdir, { recursive: true, force: true });
    }
  });
});

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runNode } from '../support/cli.js';
import { cdkContext } from './support.js';

// bin/cdk.ts as `cdk synth` runs it: context through CDK_CONTEXT_JSON, output to CDK_OUTDIR, no
// AWS credentials or configuration (offline), API bundling off to keep it quick.
const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

async function synth(context: Record<string, unknown>): Promise<{ code: number; stderr: string; outdir: string }> {
  const outdir = mkdtempSync(path.join(tmpdir(), 'blipline-cdk-app-'));
  outdirs.push(outdir);
  const run = await runNode(['node_modules/tsx/dist/cli.mjs', 'bin/cdk.ts'], {
    CDK_OUTDIR: outdir,
    CDK_CONTEXT_JSON: JSON.stringify({ ...cdkContext(), 'aws:cdk:bundling-stacks': [], ...context }),
    CDK_DEFAULT_REGION: '',
    CDK_DEFAULT_ACCOUNT: '',
    AWS_REGION: '',
    AWS_PROFILE: 'blipline-test-no-such-profile',
  });
  return { code: run.code, stderr: run.stderr, outdir };
}

interface Manifest {
  artifacts: Record<string, { type: string; environment?: string; dependencies?: string[] }>;
}

describe('bin/cdk.ts', () => {
  it('synthesizes offline with a region and no account: the main stack and its us-east-1 companion', async () => {
    const { code, stderr, outdir } = await synth({ region: 'eu-west-1' });
    expect(code, stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(path.join(outdir, 'manifest.json'), 'utf8')) as Manifest;
    expect(manifest.artifacts.Blipline).toMatchObject({ type: 'aws:cloudformation:stack', environment: 'aws://unknown-account/eu-west-1' });
    expect(manifest.artifacts['Blipline-Edge']).toMatchObject({ type: 'aws:cloudformation:stack', environment: 'aws://unknown-account/us-east-1' });
    expect(manifest.artifacts.Blipline?.dependencies).toContain('Blipline-Edge');
  }, 120_000);

  it('refuses anonymous mode without allowAnonymous, with the reason', async () => {
    const { code, stderr } = await synth({ auth: 'anonymous' });
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/also set allowAnonymous: true \(CDK context: -c auth=anonymous -c allowAnonymous=true\)/);
  }, 120_000);
});

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/fixtures.js';

// DESIGN.md: `npx blipline ...` works from the repository root after `npm ci`. npm does not link a
// package's own bin into its node_modules/.bin; `npm exec` (npx) resolves the root package's `bin`
// entry (package.json "bin": {"blipline": "bin/blipline.mjs"}) itself.

describe('npx blipline', () => {
  it('runs the CLI from the repository root without installing anything', async () => {
    const { stdout } = await promisify(execFile)('npx', ['--no-install', 'blipline', 'caption', '--help'], { cwd: repoRoot, env: { ...process.env, LOG_LEVEL: 'warn' } });
    expect(stdout).toMatch(/^usage: blipline caption IMAGE\.\.\./);
  });
});

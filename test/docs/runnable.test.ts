import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../services/core/paths.js';

/** The shell blocks the README and docs/ mark as runnable (`<!-- runnable -->` on the line before the fence). */
function runnableBlocks(): Array<{ file: string; line: number; script: string }> {
  const files = ['README.md', ...readdirSync(path.join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const blocks: Array<{ file: string; line: number; script: string }> = [];
  for (const file of files) {
    const lines = readFileSync(path.join(repoRoot, file), 'utf8').split('\n');
    lines.forEach((text, i) => {
      if (text.trim() !== '<!-- runnable -->') return;
      const fence = lines[i + 1] ?? '';
      if (!/^```(sh|bash)$/.test(fence.trim())) throw new Error(`${file}:${i + 1}: a runnable mark must stand right before a sh block`);
      const end = lines.findIndex((l, j) => j > i + 1 && l.trim() === '```');
      blocks.push({ file, line: i + 3, script: lines.slice(i + 2, end).join('\n') });
    });
  }
  return blocks;
}

describe('the documentation', () => {
  const blocks = runnableBlocks();

  it('marks the blocks that run without an AWS account', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(1);
  });

  it.each(blocks.map((b) => [`${b.file}:${b.line}`, b] as const))('%s runs as written', { timeout: 300_000 }, (_where, block) => {
    const result = spawnSync('bash', ['-euo', 'pipefail', '-c', block.script], { cwd: repoRoot, encoding: 'utf8', timeout: 280_000, env: { ...process.env, LOG_LEVEL: 'warn' } });
    expect({ status: result.status, stderr: result.status === 0 ? '' : result.stderr.slice(-2000) }).toEqual({ status: 0, stderr: '' });
    expect(result.stdout.length).toBeGreaterThan(0);
  });
});

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { build } from 'vite';
import { z } from 'zod';
import { repoRoot } from '../../support/fixtures.js';

/** Builds the upload page into a fresh folder (so the test never serves a stale services/web/dist). */
export async function buildPage(): Promise<{ dir: string; remove: () => void }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'blipline-web-'));
  await build({
    root: path.join(repoRoot, 'services/web'),
    configFile: path.join(repoRoot, 'services/web/vite.config.ts'),
    logLevel: 'warn',
    build: { outDir: dir, emptyOutDir: true },
  });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

const DevClient = z.object({ clientId: z.string(), clientSecret: z.string() });
const ReadyLine = z.looseObject({
  api: z.url(),
  s3: z.looseObject({ endpoint: z.string(), region: z.string(), bucket: z.string() }),
  auth: z.looseObject({
    mode: z.enum(['oidc', 'anonymous']),
    issuer: z.url(),
    tokenUrl: z.url(),
    clients: z.object({ alice: DevClient, bob: DevClient, operator: DevClient }),
    scopes: z.object({ user: z.string(), operator: z.string() }),
  }),
});
export type DevReady = z.infer<typeof ReadyLine>;

export { devClientToken } from '../../support/dev-token.js';

export interface DevStack {
  readonly ready: DevReady;
  readonly output: () => string;
  stop(): Promise<void>;
}

/**
 * Runs `blipline dev --json` (the whole local system: emulators, API, worker) as a child process and
 * resolves with its ready line `{"api": URL, "s3": {...}, "auth": {...}}`.
 */
export async function startDev(args: string[], env: Record<string, string>, timeoutMs = 150_000): Promise<DevStack> {
  const child: ChildProcess = spawn(
    process.execPath,
    [path.join(repoRoot, 'bin/blipline.mjs'), 'dev', '--json', '--port', '0', ...args],
    { cwd: repoRoot, env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString('utf8');
    if (log.length > 200_000) log = log.slice(-100_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
  };

  const ready = await new Promise<DevReady>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`blipline dev was not ready in ${timeoutMs} ms:\n${log}`)), timeoutMs);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const trimmed = line.trim();
      if (!trimmed.startsWith('{')) return;
      const parsed = ReadyLine.safeParse(JSON.parse(trimmed));
      if (parsed.success) {
        clearTimeout(timer);
        resolve(parsed.data);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`blipline dev exited (${code ?? signal}) before it was ready:\n${log}`));
    });
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });

  return { ready, output: () => log, stop };
}

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { parseEventEnvelope } from '../../services/core/result-events.js';
import { afterAll, describe, expect, it } from 'vitest';
import { devClientToken } from '../support/dev-token.js';
import { fixturePath, repoRoot } from '../support/fixtures.js';
import { captioningFixture, vqaFixture } from './models.js';
import { waitFor } from './support.js';

const children: ChildProcessWithoutNullStreams[] = [];

function blipline(args: string[], env: Record<string, string> = {}): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin/blipline.mjs'), ...args], {
    cwd: repoRoot,
    env: { ...process.env, LOG_LEVEL: 'warn', BLIPLINE_WEB_DIR: path.join(repoRoot, 'test-artifacts/no-web'), ...env },
  });
  children.push(child);
  return child;
}

const exitCode = (child: ChildProcessWithoutNullStreams) =>
  new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

interface DevReady {
  api: string;
  s3: { endpoint: string; region: string; bucket: string; accessKeyId: string; secretAccessKey: string };
  auth: { issuer: string; tokenUrl: string; clients: Record<'alice' | 'bob' | 'operator', { clientId: string; clientSecret: string }>; scopes: { user: string; operator: string } };
  events: { queueUrl: string };
  webhooks: { secret: string };
}

/** Everything a stream has written so far. */
function collected(stream: NodeJS.ReadableStream): () => string {
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return () => text;
}

/** The first stdout line of `blipline dev --json`, which must be its ready line. */
async function readyLine(child: ChildProcessWithoutNullStreams): Promise<{ ready: DevReady; stderr: () => string; close: () => void }> {
  const stderr = collected(child.stderr);
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`dev exited ${code}: ${stderr().slice(-2000)}`)));
  });
  return { ready: JSON.parse(first) as DevReady, stderr, close: () => lines.close() };
}

/** Drops a fixture image straight into the printed bucket and waits for its record to settle. */
async function dropAndAwaitRecord(ready: DevReady, key: string) {
  const s3 = new S3Client({ endpoint: ready.s3.endpoint, region: ready.s3.region, forcePathStyle: true, credentials: { accessKeyId: ready.s3.accessKeyId, secretAccessKey: ready.s3.secretAccessKey } });
  await s3.send(new PutObjectCommand({ Bucket: ready.s3.bucket, Key: key, Body: await readFile(fixturePath('images', 'gray_200x200.png')) }));
  const headers = { authorization: `Bearer ${await devClientToken(ready, 'operator')}` };
  return waitFor(
    async () => (await (await fetch(`${ready.api}/v1/objects?key=${encodeURIComponent(key)}`, { headers })).json()) as { imageId?: string; status?: string; tokenIds?: number[]; caption?: string },
    (r) => r.status === 'done' || r.status === 'failed',
    60_000,
    `dropped object ${key} captioned`,
  );
}

describe('blipline dev', () => {
  it('prints one JSON line when ready, captions a dropped object, and stops cleanly on SIGTERM', async () => {
    const child = blipline(['dev', '--json', '--port', '0', '--model', captioningFixture, '--vqa-model', vqaFixture]);
    const { ready, close } = await readyLine(child);
    expect(ready.api).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await (await fetch(`${ready.api}/healthz`)).json()).toMatchObject({ status: 'ok' });
    expect(await (await fetch(`${ready.api}/v1/config`)).json()).toMatchObject({ questions: true, auth: { mode: 'oidc', issuer: ready.auth.issuer } });
    // Every /v1 route but the config needs a token; alice's client-credentials token is alice.
    expect((await fetch(`${ready.api}/v1/uploads`, { method: 'POST' })).status).toBe(401);
    const alice = { authorization: `Bearer ${await devClientToken(ready, 'alice')}`, 'content-type': 'application/json' };
    const upload = await fetch(`${ready.api}/v1/uploads`, { method: 'POST', headers: alice, body: JSON.stringify({ contentType: 'image/png', contentLength: 10 }) });
    expect(upload.status).toBe(201);

    const record = await dropAndAwaitRecord(ready, 'from script/cat.png');
    expect(record.status).toBe('done');
    expect(record.tokenIds?.[0]).toBe(30522);
    // The caption is an event on the printed events queue too (a dropped object: no owner).
    expect(ready.webhooks.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    const sqs = new SQSClient({ region: ready.s3.region, endpoint: new URL(ready.events.queueUrl).origin, credentials: { accessKeyId: ready.s3.accessKeyId, secretAccessKey: ready.s3.secretAccessKey } });
    const receiveEvents = async () => (await sqs.send(new ReceiveMessageCommand({ QueueUrl: ready.events.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }))).Messages ?? [];
    const [message] = await waitFor(receiveEvents, (m) => m.length > 0, 30_000, 'the caption event');
    const event = parseEventEnvelope(JSON.parse(message!.Body ?? ''));
    expect(event['detail-type']).toBe('Image Captioned');
    expect(event.detail).toMatchObject({ imageId: record.imageId, object: { key: 'from script/cat.png' }, caption: record.caption });
    expect(event.detail).not.toHaveProperty('owner');
    sqs.destroy();
    const page = await fetch(ready.api);
    expect(page.status).toBe(503);

    child.kill('SIGTERM');
    expect(await exitCode(child)).toBe(0);
    close();
  });

  it('exits non-zero with a one-line reason for a model folder that does not exist', async () => {
    const child = blipline(['dev', '--json', '--port', '0', '--model', '/nonexistent/model']);
    const stderr = collected(child.stderr);
    const stdout = collected(child.stdout);
    expect(await exitCode(child)).toBe(1);
    expect(stdout()).toBe('');
    expect(stderr()).toMatch(/blipline dev: .*\/nonexistent\/model/);
  });

  it('checks the machine first: without Java it exits 1 with one line saying what to install, starting nothing', async () => {
    const child = blipline(['dev', '--json', '--port', '0', '--model', captioningFixture, '--vqa-model', vqaFixture], { PATH: '/nonexistent' });
    const stderr = collected(child.stderr);
    const stdout = collected(child.stdout);
    expect(await exitCode(child)).toBe(1);
    expect(stdout()).toBe('');
    const lines = stderr().trim().split('\n').filter((line) => line.startsWith('blipline dev: '));
    expect(lines.some((line) => /Java 17 or newer is needed for DynamoDB Local \(no java on the PATH\): Debian\/Ubuntu .*openjdk-17-jre-headless.*macOS/.test(line))).toBe(true);
  });

  it('stops the emulators and exits 1 with one line when the configuration is invalid after they started', async () => {
    const child = blipline(['dev', '--json', '--port', '0', '--model', captioningFixture, '--vqa-model', vqaFixture], { BLIPLINE_MAX_UPLOAD_BYTES: 'lots' });
    const stderr = collected(child.stderr);
    const stdout = collected(child.stdout);
    // The process ends on its own: no emulator is left holding the event loop.
    expect(await exitCode(child)).toBe(1);
    expect(stdout()).toBe('');
    // (Node's own ExperimentalWarning of an emulator's SQLite use is not ours.)
    const ours = stderr().trim().split('\n').filter((line) => !/ExperimentalWarning|--trace-warnings/.test(line));
    expect(ours).toHaveLength(1);
    expect(ours[0]).toMatch(/^blipline dev: invalid environment: BLIPLINE_MAX_UPLOAD_BYTES: /);
  });

  it('offline on a fresh clone (no fixtures, Hub unreachable): serves a tiny random-weight checkpoint and says loudly that captions are meaningless', async () => {
    const scratch = await mkdtemp(path.join(os.tmpdir(), 'blipline-dev-offline-'));
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    try {
      const child = blipline(['dev', '--json', '--port', '0'], {
        BLIPLINE_FIXTURES: path.join(scratch, 'no-fixtures'),
        HF_ENDPOINT: `http://127.0.0.1:${closedPort}`,
        BLIPLINE_HUB_CACHE: path.join(scratch, 'hub'),
        BLIPLINE_CACHE_DIR: path.join(scratch, 'graphs'),
        BLIPLINE_MODEL: '',
        BLIPLINE_VQA_MODEL: '',
      });
      const { ready, stderr, close } = await readyLine(child);
      expect(stderr()).toContain('A TINY RANDOM-WEIGHT CAPTIONING CHECKPOINT WRITTEN TO');
      expect(stderr()).toContain('A TINY RANDOM-WEIGHT VQA CHECKPOINT WRITTEN TO');
      expect(stderr()).toContain('CAPTIONS AND ANSWERS ARE MEANINGLESS');
      expect(await (await fetch(`${ready.api}/v1/config`)).json()).toMatchObject({ questions: true });

      const record = await dropAndAwaitRecord(ready, 'offline.png');
      expect(record.status).toBe('done');
      expect(record.tokenIds?.[0]).toBe(30522);
      expect(typeof record.caption).toBe('string');

      child.kill('SIGTERM');
      expect(await exitCode(child)).toBe(0);
      close();
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });
});

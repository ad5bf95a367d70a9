import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../../services/web/src/api/client.js';
import type { PresignedUpload } from '../../services/web/src/api/schemas.js';
import { CardController, type ControllerDeps, type NamedBlob } from '../../services/web/src/controller.js';
import { TransferError } from '../../services/web/src/errors.js';
import { MAX_POLL_FAILURES } from '../../services/web/src/state/backoff.js';
import type { CardState } from '../../services/web/src/state/card.js';
import { sniffBlob } from '../../services/web/src/sniff.js';
import { classifyS3Failure, describeS3Failure, parseS3Error } from '../../services/web/src/upload/s3-errors.js';
import { fixturePath } from '../support/fixtures.js';

/**
 * The card controller's effects against a small HTTP server that answers like the API contract, with
 * a scripted sequence of record statuses; uploads are real HTTP PUTs to the same server.
 */
interface Script {
  statuses: Array<Record<string, unknown> | 'drop'>;
  polls: number;
  putBodies: number[];
  putStatus: number;
  putBody: string;
  /** Status of DELETE /v1/images/{id}; the ids deleted with 204. */
  deleteStatus: number;
  deleted: string[];
}

let server: Server;
let base: string;
let script: Script;

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function handle(req: IncomingMessage, body: Buffer, res: ServerResponse): void {
  if (req.method === 'POST' && req.url === '/v1/uploads') {
    return json(res, 201, {
      imageId: `img-${script.putBodies.length + 1}`,
      upload: { method: 'PUT', url: `${base}/bucket/upload`, headers: { 'Content-Type': 'image/png', 'Content-Length': '1' } },
      expiresAt: new Date(Date.now() + 300_000).toISOString(),
      statusUrl: '/v1/images/img-1',
    });
  }
  if (req.method === 'PUT' && req.url === '/bucket/upload') {
    script.putBodies.push(body.length);
    res.writeHead(script.putStatus, { 'content-type': 'application/xml' });
    return void res.end(script.putBody);
  }
  if (req.method === 'GET' && req.url?.startsWith('/v1/images/')) {
    script.polls += 1;
    const next = script.statuses.length > 1 ? script.statuses.shift() : script.statuses[0];
    if (next === 'drop' || next === undefined) return void req.socket.destroy();
    return json(res, 200, { imageId: 'img-1', model: 'tiny', createdAt: '2026-11-27T13:00:00Z', updatedAt: '2026-11-27T13:00:01Z', ...next });
  }
  if (req.method === 'DELETE' && req.url?.startsWith('/v1/images/')) {
    if (script.deleteStatus !== 204) return json(res, script.deleteStatus, { error: { code: 'internal', message: 'the store did not answer' } });
    script.deleted.push(req.url.slice('/v1/images/'.length));
    res.writeHead(204);
    return void res.end();
  }
  json(res, 404, { error: { code: 'not_found', message: 'no route' } });
}

/** A PUT like the browser's, with fetch (the page uses XMLHttpRequest for its progress events). */
async function fetchTransfer(upload: PresignedUpload, file: Blob, contentType: string, onProgress: (l: number, t: number) => void, signal: AbortSignal): Promise<void> {
  const response = await fetch(upload.url, { method: upload.method, body: file, headers: { 'content-type': contentType }, signal });
  const text = await response.text();
  if (!response.ok) {
    const doc = parseS3Error(text);
    throw new TransferError(classifyS3Failure(response.status, doc), describeS3Failure(response.status, doc), { status: response.status, s3Code: doc?.code ?? null });
  }
  onProgress(file.size, file.size);
}

const png = readFileSync(fixturePath('images', 'tiny_7x5.png'));
function pngFile(): NamedBlob {
  return Object.assign(new Blob([png], { type: 'image/png' }), { name: 'tiny.png' });
}

function controller(file: NamedBlob, delays: number[], maxUploadBytes: number | null = null): { card: CardController; phases: string[] } {
  const phases: string[] = [];
  const deps: ControllerDeps = {
    api: new ApiClient({ base }),
    transfer: fetchTransfer,
    sniff: sniffBlob,
    settings: () => ({ maxUploadBytes, prompt: false }),
    sleep: async (ms) => {
      delays.push(ms);
    },
    random: () => 0.5,
  };
  const card = new CardController('1', file, null, deps, (state: CardState) => {
    if (phases.at(-1) !== state.phase.tag) phases.push(state.phase.tag);
  });
  return { card, phases };
}

beforeEach(async () => {
  script = { statuses: [], polls: 0, putBodies: [], putStatus: 200, putBody: '', deleteStatus: 204, deleted: [] };
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(req, Buffer.concat(chunks), res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function until(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !predicate(); i += 1) await new Promise((resolve) => setTimeout(resolve, 2));
  expect(predicate()).toBe(true);
}

describe('card controller', () => {
  it('uploads, then polls with backoff that resets on each status change, until done', async () => {
    script.statuses = [
      { status: 'awaiting_upload' },
      { status: 'queued' },
      { status: 'queued' },
      { status: 'queued' },
      { status: 'processing' },
      { status: 'done', caption: 'a tiny image', timingsMs: { inferenceMs: 12, totalMs: 900 } },
    ];
    const delays: number[] = [];
    const { card, phases } = controller(pngFile(), delays);
    await card.start();
    expect(phases).toEqual(['requesting', 'uploading', 'queued', 'processing', 'done']);
    expect(script.putBodies).toEqual([png.length]);
    expect(card.state.phase).toMatchObject({ tag: 'done', caption: 'a tiny image', model: 'tiny', inferenceMs: 12, totalMs: 900 });
    expect(script.polls).toBe(6);
    // Delays grow while the status stays the same (three `queued` answers) and fall back when it changes.
    expect(delays).toHaveLength(6);
    expect(delays[2]).toBe(delays[0]);
    expect(delays[3]).toBeGreaterThan(delays[2] as number);
    expect(delays[4]).toBeGreaterThan(delays[3] as number);
    expect(delays[5]).toBe(delays[0]);
  });

  it('rejects a non-image and an oversize file without calling the API', async () => {
    const delays: number[] = [];
    const text = controller(Object.assign(new Blob(['hello'], { type: 'image/png' }), { name: 'a.png' }), delays);
    await text.card.start();
    expect(text.card.state.phase).toEqual({ tag: 'upload_error', error: { code: 'not_an_image' } });
    const big = controller(pngFile(), delays, 10);
    await big.card.start();
    expect(big.card.state.phase).toEqual({ tag: 'upload_error', error: { code: 'too_large', sizeBytes: png.length, limitBytes: 10 } });
    expect(script.putBodies).toEqual([]);
    expect(script.polls).toBe(0);
  });

  it('reports an expired upload and retries it with a fresh one', async () => {
    script.putStatus = 403;
    script.putBody = '<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>';
    script.statuses = [{ status: 'done', caption: 'ok' }];
    const { card } = controller(pngFile(), []);
    await card.start();
    expect(card.state.phase).toEqual({ tag: 'upload_error', error: { code: 'upload_expired' } });
    script.putStatus = 200;
    card.retry();
    await until(() => card.state.phase.tag === 'done');
    expect(card.state.attempt).toBe(2);
    expect(card.state.imageId).toBe('img-2');
    expect(script.putBodies).toHaveLength(2);
  });

  it('gives up polling after repeated failures, then Retry resumes the same record without re-uploading', async () => {
    script.statuses = [...Array.from({ length: MAX_POLL_FAILURES }, () => 'drop' as const), { status: 'done', caption: 'back' }];
    const { card } = controller(pngFile(), []);
    await card.start();
    expect(card.state.phase).toEqual({ tag: 'upload_error', error: { code: 'api_unreachable' } });
    expect(script.polls).toBe(MAX_POLL_FAILURES);
    card.retry();
    await until(() => card.state.phase.tag === 'done');
    expect(script.putBodies).toHaveLength(1);
    expect(card.state.imageId).toBe('img-1');
  });

  it('shows the record reason when captioning failed', async () => {
    script.statuses = [{ status: 'failed', error: { code: 'corrupt', message: 'the image data is corrupt' } }];
    const { card } = controller(pngFile(), []);
    await card.start();
    expect(card.state.phase).toEqual({
      tag: 'failed',
      error: { code: 'caption_failed', reasonCode: 'corrupt', detail: 'the image data is corrupt' },
    });
  });

  it('deletes a finished image at the API; a refused delete keeps the card and says why', async () => {
    script.statuses = [{ status: 'done', caption: 'a tiny image' }];
    const { card } = controller(pngFile(), []);
    expect(await card.delete()).toBe(false);
    await card.start();
    expect(card.state.phase.tag).toBe('done');

    script.deleteStatus = 500;
    expect(await card.delete()).toBe(false);
    expect(card.state.deletion).toEqual({ tag: 'failed', error: { code: 'api_error', detail: 'the store did not answer' } });
    expect(script.deleted).toEqual([]);

    script.deleteStatus = 204;
    expect(await card.delete()).toBe(true);
    expect(script.deleted).toEqual(['img-1']);
  });

  it('takes an image the API no longer knows as deleted', async () => {
    script.statuses = [{ status: 'done', caption: 'a tiny image' }];
    const { card } = controller(pngFile(), []);
    await card.start();
    script.deleteStatus = 404;
    expect(await card.delete()).toBe(true);
  });
});

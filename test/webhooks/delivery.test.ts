import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverWebhook } from '../../services/webhooks/delivery.js';

const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const policy = { allowHttp: true, allowPrivate: true, hosts: [] };

/** A receiver on 127.0.0.1 (port 0) whose answer each test chooses; it keeps every request it got. */
let answer: (req: IncomingMessage, res: ServerResponse, body: string) => void = (_req, res) => res.end();
const received: { headers: IncomingMessage['headers']; body: string; url: string | undefined }[] = [];
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ headers: req.headers, body, url: req.url });
      answer(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
});

const job = (body: string) => ({ type: 'webhook' as const, url: `${base}/hooks/blipline`, webhookId: 'b9c6f3a0-1d2e-5f00-8a00-000000000001', body });

describe('one webhook delivery attempt', () => {
  it('POSTs the body signed per Standard Webhooks; the receiver verifies it with the secret', async () => {
    answer = (_req, res) => res.writeHead(204).end();
    const body = JSON.stringify({ 'detail-type': 'Image Captioned', detail: { caption: 'a cat' } });
    const outcome = await deliverWebhook(job(body), { secret, policy, now: () => new Date('2026-12-03T08:00:00Z') });
    expect(outcome).toEqual({ kind: 'delivered', status: 204 });
    const got = received.at(-1)!;
    expect(got.url).toBe('/hooks/blipline');
    expect(got.body).toBe(body);
    expect(got.headers).toMatchObject({
      'content-type': 'application/json',
      'webhook-id': 'b9c6f3a0-1d2e-5f00-8a00-000000000001',
      'webhook-timestamp': String(Date.parse('2026-12-03T08:00:00Z') / 1000),
    });
    expect(got.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    // Verified as a receiver does (the library checks the timestamp against its clock: sign with the current time).
    await deliverWebhook(job(body), { secret, policy });
    const now = received.at(-1)!;
    const headers = { 'webhook-id': String(now.headers['webhook-id']), 'webhook-timestamp': String(now.headers['webhook-timestamp']), 'webhook-signature': String(now.headers['webhook-signature']) };
    expect(new Webhook(secret).verify(now.body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 8).toString('base64')}`).verify(now.body, headers)).toThrow();
    expect(() => new Webhook(secret).verify(`${now.body} `, headers)).toThrow();
  });

  it('a 500 is an attempt to retry, and a redirect is not followed', async () => {
    answer = (_req, res) => res.writeHead(500).end('no');
    expect(await deliverWebhook(job('{}'), { secret, policy })).toEqual({ kind: 'retry', reason: 'answered 500', status: 500 });
    const before = received.length;
    answer = (_req, res) => res.writeHead(302, { location: 'http://169.254.169.254/' }).end();
    expect(await deliverWebhook(job('{}'), { secret, policy })).toMatchObject({ kind: 'retry', status: 302 });
    expect(received.length).toBe(before + 1);
  });

  it('a receiver that does not answer in time is an attempt to retry', async () => {
    answer = () => undefined; // never answers
    const outcome = await deliverWebhook(job('{}'), { secret, policy, timeoutMs: 300 });
    expect(outcome).toEqual({ kind: 'retry', reason: 'no complete answer within 300 ms' });
  });

  it('reads at most maxResponseBytes of an answer', async () => {
    answer = (_req, res) => {
      res.writeHead(200);
      res.write(Buffer.alloc(64 * 1024));
      // Never ends: only the bound ends the attempt.
    };
    expect(await deliverWebhook(job('{}'), { secret, policy, maxResponseBytes: 1024, timeoutMs: 30_000 })).toEqual({ kind: 'delivered', status: 200 });
  });
});

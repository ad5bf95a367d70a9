import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { isIP } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { refusedAddress } from './address-policy.js';
import type { WebhookJob } from './jobs.js';
import { checkWebhookUrl, type UrlPolicy } from './url-policy.js';

export interface DeliveryOptions {
  /** `whsec_<base64>`: the Standard Webhooks signing secret. */
  secret: string;
  policy: UrlPolicy;
  /** Whole attempt, connect to the end of the response. @default 10000 */
  timeoutMs?: number;
  /** Response bytes read at most (the rest is not read; the attempt still counts by its status). @default 65536 */
  maxResponseBytes?: number;
  /** Resolves a host name to its addresses. @default node:dns lookup (all addresses) */
  resolve?: (host: string) => Promise<{ address: string; family: number }[]>;
  now?: () => Date;
}

/** What one attempt came to: delivered (2xx), worth retrying, or refused for good (the target may never be called). */
export type DeliveryOutcome = { kind: 'delivered'; status: number } | { kind: 'retry'; reason: string; status?: number } | { kind: 'refused'; reason: string };

const defaultResolve = (host: string) => dnsLookup(host, { all: true, verbatim: true });

/**
 * The address to connect to: an IP literal as it is, else the host resolved once; every address it resolves to
 * must be allowed (a name that also points inside is refused), and the connection then goes to the checked address
 * only, so a second resolution (DNS rebinding) cannot redirect it.
 */
async function checkedAddress(url: URL, options: DeliveryOptions): Promise<{ address: string; family: number } | { refused: string } | { retry: string }> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const allowLoopback = options.policy.allowPrivate;
  if (isIP(host) !== 0) {
    const refused = refusedAddress(host, { allowLoopback });
    return refused ? { refused } : { address: host, family: isIP(host) };
  }
  let addresses: { address: string; family: number }[];
  try {
    addresses = await (options.resolve ?? defaultResolve)(host);
  } catch (error) {
    return { retry: `${host} did not resolve: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (addresses.length === 0) return { retry: `${host} resolved to no address` };
  for (const a of addresses) {
    const refused = refusedAddress(a.address, { allowLoopback });
    if (refused) return { refused: `${host} resolves to ${refused}` };
  }
  return addresses[0]!;
}

/** The Standard Webhooks headers of one attempt: id, timestamp (seconds) and `v1,<base64 HMAC-SHA256>` of `id.timestamp.body`. */
export function signedHeaders(secret: string, webhookId: string, body: string, at: Date): Record<string, string> {
  return {
    'webhook-id': webhookId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(webhookId, at, body),
  };
}

/**
 * One delivery attempt: checks the URL and the resolved address, then POSTs the signed body to that address.
 * Redirects are not followed (a 3xx is a failed attempt). Never throws.
 */
export async function deliverWebhook(job: WebhookJob, options: DeliveryOptions): Promise<DeliveryOutcome> {
  const checked = checkWebhookUrl(job.url, options.policy);
  if (!checked.ok) return { kind: 'refused', reason: `webhook URL ${checked.reason}` };
  const url = checked.url;
  const target = await checkedAddress(url, options);
  if ('refused' in target) return { kind: 'refused', reason: target.refused };
  if ('retry' in target) return { kind: 'retry', reason: target.retry };
  const lookup: LookupFunction = (_host, lookupOptions, callback) => {
    if (lookupOptions.all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  };
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'blipline-webhooks/1',
    ...signedHeaders(options.secret, job.webhookId, job.body, (options.now ?? (() => new Date()))()),
  };
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxBytes = options.maxResponseBytes ?? 65_536;
  return new Promise<DeliveryOutcome>((resolve) => {
    const request = (url.protocol === 'https:' ? https : http).request(url, { method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(job.body) }, lookup, agent: false });
    const timer = setTimeout(() => request.destroy(new Error(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
    const finish = (outcome: DeliveryOutcome) => {
      clearTimeout(timer);
      resolve(outcome);
    };
    request.on('error', (error) => finish({ kind: 'retry', reason: error.message }));
    request.on('response', (response) => {
      const status = response.statusCode ?? 0;
      let read = 0;
      const settle = () => finish(status >= 200 && status < 300 ? { kind: 'delivered', status } : { kind: 'retry', reason: `answered ${status}`, status });
      response.on('data', (chunk: Buffer) => {
        read += chunk.byteLength;
        if (read > maxBytes) {
          // Enough: the status decides; the rest of a large answer is not read.
          response.destroy();
          request.destroy();
          settle();
        }
      });
      response.on('end', settle);
      response.on('error', (error) => finish({ kind: 'retry', reason: error.message }));
    });
    request.end(job.body);
  });
}

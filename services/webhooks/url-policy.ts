import { isIP } from 'node:net';
import type { WebhookConfig } from '../core/config.js';
import { refusedAddress } from './address-policy.js';

export type UrlPolicy = Pick<WebhookConfig, 'allowHttp' | 'allowPrivate' | 'hosts'>;

/** Longest webhook URL accepted. */
export const MAX_WEBHOOK_URL_LENGTH = 2_048;

/** A host matches an allow-list entry when equal to it, or when the entry starts with a dot and the host is below it. */
function hostAllowed(host: string, hosts: string[]): boolean {
  return hosts.some((h) => (h.startsWith('.') ? host.endsWith(h) && host.length > h.length : host === h));
}

/**
 * Checks a webhook URL before it is stored and again before each delivery: https (http only with `allowHttp`),
 * no credentials, a host on the allow-list when there is one, and an IP-literal host must itself be allowed.
 * Host names are checked on their resolved addresses at delivery time. Returns the parsed URL or why not.
 */
export function checkWebhookUrl(raw: string, policy: UrlPolicy): { ok: true; url: URL } | { ok: false; reason: string } {
  if (raw.length > MAX_WEBHOOK_URL_LENGTH) return { ok: false, reason: `is longer than ${MAX_WEBHOOK_URL_LENGTH} characters` };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'is not a URL' };
  }
  if (url.protocol !== 'https:' && !(policy.allowHttp && url.protocol === 'http:')) return { ok: false, reason: policy.allowHttp ? 'must be an http or https URL' : 'must be an https URL' };
  if (url.username !== '' || url.password !== '') return { ok: false, reason: 'must not carry credentials' };
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (policy.hosts.length > 0 && !hostAllowed(host, policy.hosts)) return { ok: false, reason: `host ${host} is not on the webhook allow-list` };
  if (isIP(host) !== 0) {
    const refused = refusedAddress(host, { allowLoopback: policy.allowPrivate });
    if (refused) return { ok: false, reason: `refused: ${refused}` };
  }
  return { ok: true, url };
}

import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refusedAddress } from '../../services/webhooks/address-policy.js';
import { deliverWebhook } from '../../services/webhooks/delivery.js';
import { checkWebhookUrl } from '../../services/webhooks/url-policy.js';

const strict = { allowLoopback: false };

describe('webhook address policy', () => {
  const refused = [
    '10.0.0.1', '172.16.5.4', '192.168.1.1', // private
    '127.0.0.1', '::1', // loopback
    '169.254.169.254', 'fe80::1', // link-local (the metadata endpoint)
    'fd00:ec2::254', 'fc00::1', // unique-local (AWS's IPv6 metadata endpoint)
    '100.64.0.1', '0.0.0.0', '::', '224.0.0.1', '255.255.255.255', // CGNAT, unspecified, multicast, broadcast
    '::ffff:10.0.0.1', '::ffff:127.0.0.1', '::ffff:169.254.169.254', // IPv4-mapped
  ];
  it.each(refused)('refuses %s', (address) => {
    expect(refusedAddress(address, strict)).toBeTypeOf('string');
  });

  it('allows public unicast addresses, and loopback only when told to', () => {
    for (const address of ['93.184.216.34', '2606:4700:4700::1111', '8.8.8.8']) expect(refusedAddress(address, strict)).toBeUndefined();
    expect(refusedAddress('127.0.0.1', { allowLoopback: true })).toBeUndefined();
    expect(refusedAddress('::1', { allowLoopback: true })).toBeUndefined();
    // Only loopback: private and link-local stay refused.
    expect(refusedAddress('10.0.0.1', { allowLoopback: true })).toMatch(/private/);
    expect(refusedAddress('169.254.169.254', { allowLoopback: true })).toMatch(/link-local/);
    expect(refusedAddress('not-an-ip', strict)).toMatch(/not an IP address/);
  });
});

describe('webhook URL policy', () => {
  const aws = { allowHttp: false, allowPrivate: false, hosts: [] };
  it('takes https URLs of public hosts', () => {
    expect(checkWebhookUrl('https://hooks.example.com/blipline?x=1', aws)).toMatchObject({ ok: true });
  });
  it.each([
    ['http://hooks.example.com/', /https/],
    ['ftp://hooks.example.com/', /https/],
    ['not a url', /not a URL/],
    ['https://user:pw@hooks.example.com/', /credentials/],
    ['https://10.0.0.1/', /private/],
    ['https://[::1]/', /loopback/],
    ['https://169.254.169.254/latest/meta-data/', /link-local/],
    [`https://example.com/${'a'.repeat(2_100)}`, /longer/],
  ])('refuses %s', (url, reason) => {
    const checked = checkWebhookUrl(url, aws);
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.reason).toMatch(reason);
  });
  it('applies the host allow-list (exact names, or a leading dot for subdomains)', () => {
    const policy = { ...aws, hosts: ['hooks.example.com', '.partner.net'] };
    expect(checkWebhookUrl('https://hooks.example.com/', policy).ok).toBe(true);
    expect(checkWebhookUrl('https://a.partner.net/', policy).ok).toBe(true);
    expect(checkWebhookUrl('https://partner.net/', policy).ok).toBe(false);
    expect(checkWebhookUrl('https://evil.example.com/', policy).ok).toBe(false);
  });
  it('takes http and loopback only where the local stack allows them', () => {
    expect(checkWebhookUrl('http://127.0.0.1:8080/', { allowHttp: true, allowPrivate: true, hosts: [] }).ok).toBe(true);
    expect(checkWebhookUrl('http://127.0.0.1:8080/', { allowHttp: true, allowPrivate: false, hosts: [] }).ok).toBe(false);
  });
});

describe('a delivery to an internal address', () => {
  let server: Server;
  let connections = 0;
  let port: number;
  beforeAll(async () => {
    server = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const job = (url: string) => ({ type: 'webhook' as const, url, webhookId: 'msg_1', body: '{}' });
  const options = { secret: `whsec_${Buffer.alloc(32, 1).toString('base64')}`, policy: { allowHttp: true, allowPrivate: false, hosts: [] } };

  it('is refused without connecting: an IP literal, a name resolving to it, and a name with one internal address among public ones', async () => {
    expect(await deliverWebhook(job(`http://127.0.0.1:${port}/hook`), options)).toMatchObject({ kind: 'refused' });
    expect(await deliverWebhook(job(`http://localhost:${port}/hook`), options)).toMatchObject({ kind: 'refused', reason: expect.stringMatching(/loopback/) });
    const rebinding = { ...options, resolve: async () => [{ address: '93.184.216.34', family: 4 }, { address: '127.0.0.1', family: 4 }] };
    expect(await deliverWebhook(job(`http://rebind.example/hook`), rebinding)).toMatchObject({ kind: 'refused', reason: expect.stringMatching(/rebind\.example resolves to 127\.0\.0\.1/) });
    const metadata = { ...options, resolve: async () => [{ address: '169.254.169.254', family: 4 }] };
    expect(await deliverWebhook(job(`http://metadata.example/latest/`), metadata)).toMatchObject({ kind: 'refused', reason: expect.stringMatching(/link-local/) });
    expect(connections).toBe(0);
  });
});

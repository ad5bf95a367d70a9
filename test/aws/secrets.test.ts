import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretsClient } from '../../services/aws/clients.js';
import { SecretUnavailableError } from '../../services/aws/errors.js';
import { readSecretString, withRedisPassword } from '../../services/aws/secrets.js';

// A Secrets Manager endpoint speaking the service's JSON protocol (awsJson1.1) on a local port:
// the real SDK client talks to it over HTTP, so request signing, parsing and errors are exercised.
const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:secrets-test-redis-AbCdEf';
const BINARY_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:secrets-test-binary-AbCdEf';
const secrets = new Map<string, { SecretString?: string; SecretBinary?: string }>([
  [ARN, { SecretString: 'p4ssw0rdFromSecretsManager' }],
  [BINARY_ARN, { SecretBinary: Buffer.from('bytes').toString('base64') }],
]);
const seen: { target: string | undefined; secretId: unknown; authorization: string | undefined }[] = [];

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

let server: Server;
let endpoint: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    void body(req).then((text) => {
      const input = JSON.parse(text) as { SecretId?: string };
      const target = req.headers['x-amz-target'];
      seen.push({ target: Array.isArray(target) ? target[0] : target, secretId: input.SecretId, authorization: req.headers.authorization });
      const secret = secrets.get(input.SecretId ?? '');
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      if (secret === undefined) {
        res.statusCode = 400;
        res.end(JSON.stringify({ __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." }));
        return;
      }
      res.end(JSON.stringify({ ARN: input.SecretId, Name: 'test', VersionId: 'v1', ...secret }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const client = () => createSecretsClient({ region: 'eu-west-1', endpoint }, { requestTimeoutMs: 2_000 });
const base = { region: 'eu-west-1', redisPassword: undefined, redisPasswordSecretArn: undefined };

describe('withRedisPassword', () => {
  it('reads the password from the secret once, with a signed GetSecretValue', async () => {
    const before = seen.length;
    const config = await withRedisPassword({ ...base, redisPasswordSecretArn: ARN, other: 1 }, client());
    expect(config).toEqual({ ...base, redisPasswordSecretArn: ARN, other: 1, redisPassword: 'p4ssw0rdFromSecretsManager' });
    const calls = seen.slice(before);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ target: 'secretsmanager.GetSecretValue', secretId: ARN });
    expect(calls[0]?.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=.*\/eu-west-1\/secretsmanager\/aws4_request/);
  });

  it('leaves a given password and a config without a secret alone (no call)', async () => {
    const before = seen.length;
    expect(await withRedisPassword({ ...base, redisPassword: 'given' }, client())).toEqual({ ...base, redisPassword: 'given' });
    expect(await withRedisPassword(base, client())).toEqual(base);
    expect(seen.length).toBe(before);
  });

  it('fails with the secret and the reason when the secret is missing or not a string', async () => {
    const missing = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:secrets-test-missing-AbCdEf';
    const error = await withRedisPassword({ ...base, redisPasswordSecretArn: missing }, client()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretUnavailableError);
    expect((error as SecretUnavailableError).code).toBe('secret_unavailable');
    expect((error as Error).message).toContain(missing);
    expect((error as Error).message).toContain('ResourceNotFoundException');

    const binary = await readSecretString(client(), BINARY_ARN).catch((e: unknown) => e);
    expect(binary).toBeInstanceOf(SecretUnavailableError);
    expect((binary as Error).message).toMatch(/has no string value/);
  });

  it('fails with the reason when Secrets Manager cannot be reached', async () => {
    const closed = createSecretsClient({ region: 'eu-west-1', endpoint: 'http://127.0.0.1:9' }, { connectionTimeoutMs: 500, requestTimeoutMs: 1_000 });
    const error = await readSecretString(closed, ARN).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretUnavailableError);
    expect((error as Error).message).toMatch(/^cannot read secret arn:aws:secretsmanager:.*: \w+/);
  });
});

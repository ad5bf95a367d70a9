import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../services/core/index.js';

const base = {
  AWS_REGION: 'eu-west-1',
  BLIPLINE_BUCKET: 'my-bucket',
  BLIPLINE_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/jobs',
  BLIPLINE_TABLE: 'blipline',
  BLIPLINE_QUESTION_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/questions',
  BLIPLINE_OIDC_ISSUER: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc',
  BLIPLINE_OIDC_AUDIENCE: 'client-a, client-b',
};

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(base);
    expect(config).toMatchObject({
      region: 'eu-west-1',
      bucket: 'my-bucket',
      maxUploadBytes: 33_554_432,
      uploadExpiresSeconds: 60,
      allowedOrigins: '*',
      precision: 'fp32',
      recordTtlDays: 30,
      redisUrl: undefined,
      maxReceiveCount: 5,
      auth: { mode: 'oidc', issuer: base.BLIPLINE_OIDC_ISSUER, audiences: ['client-a', 'client-b'], userScope: 'blipline/images', operatorScope: 'blipline/operator' },
      quotas: { uploadsPerDay: 100, uploadBytesPerDay: 524_288_000, questionsPerImage: 20, questionsPerMinute: 10 },
    });
    expect(config.webDir.endsWith('services/web/dist')).toBe(true);
  });

  it('lists every missing and invalid variable in one error', () => {
    let error: unknown;
    try {
      loadConfig({ BLIPLINE_QUEUE_URL: 'not a url', BLIPLINE_REDIS_URL: 'http://x', BLIPLINE_MAX_UPLOAD_BYTES: '-4', BLIPLINE_PRECISION: 'fp16' }, { requireModel: true });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues.join('\n');
    for (const name of ['AWS_REGION', 'BLIPLINE_BUCKET', 'BLIPLINE_TABLE', 'BLIPLINE_QUEUE_URL', 'BLIPLINE_QUESTION_QUEUE_URL', 'BLIPLINE_REDIS_URL', 'BLIPLINE_MAX_UPLOAD_BYTES', 'BLIPLINE_PRECISION', 'BLIPLINE_MODEL']) {
      expect(issues).toContain(name);
    }
    expect((error as ConfigError).issues).toHaveLength(9);
    expect((error as ConfigError).message).toContain('AWS_REGION: is required');
  });

  it('parses origins, endpoints and numbers', () => {
    const config = loadConfig({
      ...base,
      BLIPLINE_ALLOWED_ORIGINS: 'https://a.example, https://b.example',
      BLIPLINE_S3_ENDPOINT: 'http://127.0.0.1:4567',
      BLIPLINE_REDIS_URL: 'rediss://cache.example:6379',
      BLIPLINE_MAX_UPLOAD_BYTES: '2048',
      BLIPLINE_VQA_MODEL: '',
    });
    expect(config.allowedOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(config.s3Endpoint).toBe('http://127.0.0.1:4567');
    expect(config.redisUrl).toBe('rediss://cache.example:6379');
    expect(config.maxUploadBytes).toBe(2048);
    expect(config.vqaModel).toBeUndefined();
  });

  it('needs an issuer and audience unless anonymous mode is asked for in words', () => {
    const { BLIPLINE_OIDC_ISSUER: _i, BLIPLINE_OIDC_AUDIENCE: _a, ...rest } = base;
    expect(() => loadConfig(rest)).toThrow(/BLIPLINE_OIDC_ISSUER: is required unless BLIPLINE_AUTH=anonymous[\s\S]*BLIPLINE_OIDC_AUDIENCE/);
    expect(loadConfig({ ...rest, BLIPLINE_AUTH: 'anonymous' }).auth.mode).toBe('anonymous');
    expect(() => loadConfig({ ...rest, BLIPLINE_AUTH: 'none' })).toThrow(/BLIPLINE_AUTH: must be oidc or anonymous/);
    expect(() => loadConfig({ ...base, BLIPLINE_OBJECT_ID_SECRET: 'short' })).toThrow(/BLIPLINE_OBJECT_ID_SECRET: must be at least 32 characters/);
  });

  it('reads the events and webhook settings: off by default, https only, no internal targets', () => {
    expect(loadConfig(base)).toMatchObject({
      events: { busName: undefined, queueUrl: undefined },
      webhooks: { queueUrl: undefined, secret: undefined, allowHttp: false, allowPrivate: false, hosts: [], attempts: 8, visibilityTimeoutSeconds: 30, timeoutSeconds: 10 },
    });
    const secret = `whsec_${Buffer.alloc(32, 3).toString('base64')}`;
    const config = loadConfig({
      ...base,
      BLIPLINE_EVENT_BUS: 'blipline-events',
      BLIPLINE_WEBHOOK_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/webhooks',
      BLIPLINE_WEBHOOK_SECRET: secret,
      BLIPLINE_WEBHOOK_ALLOW_HTTP: 'true',
      BLIPLINE_WEBHOOK_HOSTS: 'Hooks.Example.com, .partner.net',
    });
    expect(config.events.busName).toBe('blipline-events');
    expect(config.webhooks).toMatchObject({ secret, allowHttp: true, allowPrivate: false, hosts: ['hooks.example.com', '.partner.net'] });
    expect(() => loadConfig({ ...base, BLIPLINE_WEBHOOK_SECRET: 'whsec_short' })).toThrow(/BLIPLINE_WEBHOOK_SECRET: must be at least 24 bytes in base64/);
    expect(() => loadConfig({ ...base, BLIPLINE_WEBHOOK_ALLOW_PRIVATE: 'yes' })).toThrow(/BLIPLINE_WEBHOOK_ALLOW_PRIVATE: must be true or false/);
    expect(() => loadConfig({ ...base, BLIPLINE_WEBHOOK_TIMEOUT_SECONDS: '60' })).toThrow(/BLIPLINE_WEBHOOK_TIMEOUT_SECONDS: must be at most 30/);
  });
});

describe('loadConfig: cache credentials', () => {
  const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:blipline-redis-AbCdEf';

  it('reads the RBAC user, a password or the secret holding it; all optional', () => {
    expect(loadConfig(base)).toMatchObject({ redisUsername: undefined, redisPassword: undefined, redisPasswordSecretArn: undefined });
    expect(loadConfig({ ...base, BLIPLINE_REDIS_USERNAME: 'blipline', BLIPLINE_REDIS_PASSWORD: 'secret-pw' })).toMatchObject({
      redisUsername: 'blipline',
      redisPassword: 'secret-pw',
      redisPasswordSecretArn: undefined,
    });
    expect(loadConfig({ ...base, BLIPLINE_REDIS_PASSWORD_SECRET_ARN: arn, BLIPLINE_REDIS_PASSWORD: '' })).toMatchObject({
      redisPassword: undefined,
      redisPasswordSecretArn: arn,
    });
  });

  it('refuses a secret that is not an ARN, and a password given twice', () => {
    const issuesOf = (env: Record<string, string>): string[] => {
      try {
        loadConfig({ ...base, ...env });
      } catch (e) {
        if (e instanceof ConfigError) return e.issues;
        throw e;
      }
      return [];
    };
    expect(issuesOf({ BLIPLINE_REDIS_PASSWORD_SECRET_ARN: 'blipline-redis' })).toEqual([
      'BLIPLINE_REDIS_PASSWORD_SECRET_ARN: must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)',
    ]);
    expect(issuesOf({ BLIPLINE_REDIS_PASSWORD_SECRET_ARN: arn, BLIPLINE_REDIS_PASSWORD: 'pw' })).toEqual([
      'BLIPLINE_REDIS_PASSWORD_SECRET_ARN: set either it or BLIPLINE_REDIS_PASSWORD, not both',
    ]);
  });
});

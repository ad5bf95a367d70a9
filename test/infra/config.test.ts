import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../lib/config.js';
import { StackConfigError } from '../../lib/errors.js';

describe('stack props', () => {
  it('documents defaults that resolve to the chosen settings', () => {
    const c = resolveConfig();
    expect(c).toMatchObject({
      allowedOrigins: [],
      notificationPrefix: '',
      uploadExpiresSeconds: 60,
      droppedObjectDays: undefined,
      accessLogDays: 90,
      uploadRetentionDays: 30,
      maxUploadBytes: 33_554_432,
      captionModel: 'Salesforce/blip-image-captioning-base',
      vqaModel: 'Salesforce/blip-vqa-base',
      precision: 'int8',
      workerCpu: 2048,
      workerMemoryMiB: 4096,
      workerDecoderRows: 8,
      workerArchitecture: 'x86_64',
      visibilityTimeoutSeconds: 90,
      stopTimeoutSeconds: 120,
      maxReceiveCount: 5,
      dataRemovalPolicy: RemovalPolicy.RETAIN,
    });
    expect(c.scaling).toMatchObject({ maxTasks: 10, targetBacklogPerTask: 60, scaleInIdleMinutes: 10, coldStart: 'tiered' });
  });

  it('sizes the visibility timeout from the worst-case job time', () => {
    expect(resolveConfig({ worstCaseJobTime: Duration.seconds(45) }).visibilityTimeoutSeconds).toBe(135);
    expect(resolveConfig({ worstCaseJobTime: Duration.seconds(5) }).visibilityTimeoutSeconds).toBe(30);
  });

  const rejects: [string, Parameters<typeof resolveConfig>[0], RegExp][] = [
    ['a job longer than the stop timeout allows', { worstCaseJobTime: Duration.seconds(110) }, /worstCaseJobTime .*make jobs shorter .*or give tasks more vCPUs/],
    ['an origin with a path', { allowedOrigins: ['https://example.com/app'] }, /allowedOrigins entry "https:\/\/example.com\/app" is not an origin; use scheme:\/\/host/],
    ['memory that does not fit the CPU', { workerCpu: 2048, workerMemoryMiB: 2048 }, /workerMemoryMiB 2048 is not a valid Fargate size for workerCpu 2048/],
    ['an unknown CPU size', { workerCpu: 3000 }, /workerCpu must be one of 1024, 2048, 4096, 8192/],
    ['a model that is not a Hub id', { captionModel: 'blip' }, /captionModel "blip" is not a Hugging Face Hub id; use 'owner\/name'/],
    ['zero tasks', { scaling: { maxTasks: 0 } }, /scaling\.maxTasks must be an integer from 1 to 1000/],
    ['a latency below one image', { scaling: { acceptableLatency: Duration.millis(500) } }, /scaling\.acceptableLatency .* raise acceptableLatency or lower secondsPerImage/],
    ['a fractional idle window', { scaling: { scaleInIdle: Duration.seconds(90) } }, /scaling\.scaleInIdle must be whole minutes/],
    ['a prefix with a leading slash', { notificationPrefix: '/uploads/' }, /notificationPrefix must not start with '\/'/],
    ['a bad e-mail', { alarmEmail: 'ops' }, /alarmEmail "ops" is not an e-mail address/],
    ['presigned URLs over 7 days', { uploadExpires: Duration.days(8) }, /uploadExpires must be an integer from 1 to 604800/],
    // identity, quotas, edge and retention (lib/security-config.ts)
    ['anonymous without allowAnonymous', { auth: { mode: 'anonymous' } }, /auth.mode 'anonymous' lets anyone .* also set allowAnonymous: true .*otherwise remove auth/],
    ['allowAnonymous with sign-in', { allowAnonymous: true }, /allowAnonymous: true is set but auth.mode is 'cognito'; remove allowAnonymous/],
    ['an http issuer', { auth: { mode: 'oidc', issuer: 'http://login.example.com', audience: ['a'], webClientId: 'w' } }, /auth.issuer "http:\/\/login.example.com" must use https:\/\//],
    ['an issuer with a trailing slash', { auth: { mode: 'oidc', issuer: 'https://login.example.com/', audience: ['a'], webClientId: 'w' } }, /ends with '\/'/],
    ['no audience', { auth: { mode: 'oidc', issuer: 'https://login.example.com', audience: [], webClientId: 'w' } }, /auth.audience is empty/],
    ['the same user and operator scope', { auth: { mode: 'oidc', issuer: 'https://login.example.com', audience: ['a'], webClientId: 'w', userScope: 's', operatorScope: 's' } }, /the operator scope must differ/],
    ['a domain prefix with aws in it', { auth: { mode: 'cognito', domainPrefix: 'my-aws-login' } }, /auth.domainPrefix "my-aws-login" must be .* without 'aws'/],
    ['a machine client named like the stack own', { auth: { mode: 'cognito', machineClients: [{ name: 'operator', scopes: ['images'] }] } }, /name "operator" is taken/],
    ['a machine client without scopes', { auth: { mode: 'cognito', machineClients: [{ name: 'ci', scopes: [] }] } }, /auth.machineClients ci has no scopes/],
    ['an http callback that is not localhost', { auth: { mode: 'cognito', extraCallbackUrls: ['http://photos.example.com/'] } }, /must use https:\/\/ \(http:\/\/ only for localhost\)/],
    ['a zero quota', { quotas: { uploadsPerDay: 0 } }, /quotas.uploadsPerDay must be an integer from 1/],
    ['a web ACL that is not a CloudFront one', { edge: { webAclArn: 'arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/a/b' } }, /edge.webAclArn .* is not the ARN of a CloudFront web ACL/],
    ['an edge certificate outside us-east-1', { edge: { domain: { domainName: 'photos.example.com', certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc' } } }, /must be an ACM certificate ARN in us-east-1/],
    ['edge settings with the edge off', { edge: { enabled: false, webAclArn: 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/a/b' } }, /edge.enabled is false but edge.webAclArn/],
    ['a rate limit below WAF minimum', { edge: { rateLimitPer5Minutes: 5 } }, /edge.rateLimitPer5Minutes must be an integer from 10/],
    ['an API domain that is not a domain', { apiDomain: { domainName: 'https://api.example.com', certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc' } }, /apiDomain.domainName .* is not a domain name/],
    ['dropped objects kept 0 days', { retention: { droppedObjectDays: 0 } }, /retention.droppedObjectDays must be an integer from 1 .* or 'never'/],
  ];
  it.each(rejects)('rejects %s with a message saying what to change', (_name, props, message) => {
    let error: unknown;
    try {
      resolveConfig(props);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StackConfigError);
    expect((error as StackConfigError).code).toBe('invalid_stack_props');
    expect((error as Error).message).toMatch(message);
  });
});

import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../lib/config.js';
import { StackConfigError } from '../../lib/errors.js';

describe('identity, quotas, edge and retention props', () => {
  it('default to a Cognito pool with closed sign-up and required MFA, the edge on, the documented quotas', () => {
    const c = resolveConfig();
    expect(c.identity).toMatchObject({
      mode: 'cognito',
      cognito: { selfSignUp: false, mfa: 'required', threatProtection: false, machineClients: [], extraCallbackUrls: [], domainPrefix: undefined },
      userScope: 'blipline/images',
      operatorScope: 'blipline/operator',
    });
    expect(c.quotas).toEqual({ uploadsPerDay: 100, uploadBytesPerDay: 524_288_000, questionsPerImage: 20, questionsPerMinute: 10 });
    expect(c.edge).toEqual({ enabled: true, rateLimitPer5Minutes: 2000, webAclArn: undefined, domain: undefined, contentSecurityPolicy: undefined });
    expect(c.apiDomain).toBeUndefined();
  });

  it('takes an existing OIDC issuer with its audiences and scopes', () => {
    const c = resolveConfig({
      auth: { mode: 'oidc', issuer: 'https://login.example.com/realms/photos', audience: ['blipline-api', 'scripts'], webClientId: 'page', operatorScope: 'photos:operator' },
    });
    expect(c.identity).toMatchObject({
      mode: 'oidc',
      oidc: { issuer: 'https://login.example.com/realms/photos', audience: ['blipline-api', 'scripts'], webClientId: 'page', logoutUrl: undefined },
      userScope: 'blipline/images',
      operatorScope: 'photos:operator',
    });
  });

  it('allows anonymous mode only when told twice, in words', () => {
    expect(resolveConfig({ auth: { mode: 'anonymous' }, allowAnonymous: true }).identity.mode).toBe('anonymous');
  });

  it('keeps dropped objects forever when asked, or for the given days', () => {
    expect(resolveConfig({ retention: { droppedObjectDays: 'never' } }).droppedObjectDays).toBeUndefined();
    expect(resolveConfig({ retention: { droppedObjectDays: 365 } }).droppedObjectDays).toBe(365);
    expect(resolveConfig({ recordTtlDays: 7 }).droppedObjectDays).toBe(7);
  });

  const rejects: [string, Parameters<typeof resolveConfig>[0], RegExp][] = [
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
    expect((error as Error).message).toMatch(message);
  });
});

import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../lib/config.js';

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

  it('keeps dropped objects unless given a number of days', () => {
    expect(resolveConfig().droppedObjectDays).toBeUndefined();
    expect(resolveConfig({ retention: { droppedObjectDays: 'never' } }).droppedObjectDays).toBeUndefined();
    expect(resolveConfig({ retention: { droppedObjectDays: 365 } }).droppedObjectDays).toBe(365);
  });
});

import { InMemoryWebStorage, WebStorageStateStore } from 'oidc-client-ts';
import { describe, expect, it } from 'vitest';
import { ApiConfig } from '../../services/web/src/api/schemas.js';
import {
  displayName,
  isSignInCallback,
  isSignOutCallback,
  userManagerSettings,
  withoutCallbackParams,
} from '../../services/web/src/auth/session.js';

const oidc = { mode: 'oidc', issuer: 'http://127.0.0.1:4100', clientId: 'blipline-web', scope: 'openid blipline/images', logoutUrl: null } as const;

describe('sign-in settings of the page', () => {
  it('reads both modes of /v1/config auth, and refuses a broken one with a reason', () => {
    expect(ApiConfig.parse({ auth: oidc }).auth).toEqual(oidc);
    expect(ApiConfig.parse({ auth: { mode: 'anonymous' } }).auth).toEqual({ mode: 'anonymous' });
    expect(ApiConfig.parse({}).auth).toBeUndefined();
    expect(ApiConfig.safeParse({ auth: { ...oidc, issuer: 'not a url' } }).success).toBe(false);
    expect(ApiConfig.safeParse({ auth: { mode: 'magic' } }).success).toBe(false);
  });

  it('signs in with code + PKCE back to the page itself, keeping the user in the given storage', async () => {
    const storage = new InMemoryWebStorage();
    const settings = userManagerSettings(oidc, 'http://127.0.0.1:3000', storage);
    expect(settings).toMatchObject({
      authority: 'http://127.0.0.1:4100',
      client_id: 'blipline-web',
      redirect_uri: 'http://127.0.0.1:3000/',
      post_logout_redirect_uri: 'http://127.0.0.1:3000/',
      response_type: 'code',
      scope: 'openid blipline/images',
      automaticSilentRenew: false,
    });
    expect(settings.metadataSeed).toBeUndefined();
    expect(settings.userStore).toBeInstanceOf(WebStorageStateStore);
    await settings.userStore?.set('user', 'stored');
    expect(storage.length).toBe(1);
  });

  it('names the logout URL as the end-session endpoint when the API gives one (Cognito has no discovery entry for it)', () => {
    const logoutUrl = 'https://auth.example.test/logout?client_id=web&logout_uri=https%3A%2F%2Fapp.example.test%2F';
    const settings = userManagerSettings({ ...oidc, logoutUrl }, 'https://app.example.test', new InMemoryWebStorage());
    expect(settings.metadataSeed).toEqual({ end_session_endpoint: logoutUrl });
  });

  it('recognises the provider sending the browser back, and cleans the address afterwards', () => {
    const cases: [query: string, signIn: boolean, signOut: boolean, cleaned: string][] = [
      ['?code=abc&state=s1&iss=http%3A%2F%2F127.0.0.1%3A4100', true, false, '/'],
      ['?error=access_denied&error_description=no&state=s1#cards', true, false, '/#cards'],
      ['?state=s2', false, true, '/'],
      ['?lang=en&state=s3', false, true, '/?lang=en'],
      ['?code=abc&lang=en', false, false, '/?lang=en'],
    ];
    for (const [query, signIn, signOut, cleaned] of cases) {
      const url = new URL(`http://127.0.0.1:3000/${query}`);
      expect([isSignInCallback(url), isSignOutCallback(url), withoutCallbackParams(url)], query).toEqual([signIn, signOut, cleaned]);
    }
  });

  it('shows the name claim, else the subject', () => {
    expect(displayName({ sub: 'alice' })).toBe('alice');
    expect(displayName({ sub: 'u-1', name: 'Alice Liddell' })).toBe('Alice Liddell');
    expect(displayName({ sub: 'u-1', name: '  ' })).toBe('u-1');
  });
});

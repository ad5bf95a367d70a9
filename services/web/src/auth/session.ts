/**
 * Signing in to the API's OpenID provider with oidc-client-ts: authorization code + PKCE through a full
 * page redirect (the page's own URL is the redirect URI), the user (and its access token) kept in
 * session storage, so it ends with the tab. GET /v1/config says which provider and client to use.
 */
import { type User, UserManager, type UserManagerSettings, WebStorageStateStore } from 'oidc-client-ts';
import type { OidcSettings } from '../api/schemas.js';

/** The settings of the page's UserManager for `auth` (from GET /v1/config) on the page at `origin`. */
export function userManagerSettings(auth: OidcSettings & { clientId: string }, origin: string, storage: Storage): UserManagerSettings {
  const home = `${origin}/`;
  return {
    authority: auth.issuer,
    client_id: auth.clientId,
    redirect_uri: home,
    post_logout_redirect_uri: home,
    response_type: 'code',
    scope: auth.scope,
    userStore: new WebStorageStateStore({ store: storage }),
    // No hidden iframe (the page's CSP frames nothing): an expired token gets a 401, which signs in again.
    automaticSilentRenew: false,
    ...(auth.logoutUrl !== undefined && auth.logoutUrl !== null ? { metadataSeed: { end_session_endpoint: auth.logoutUrl } } : {}),
  };
}

/** Whether `url` is the provider sending the browser back after sign-in (`?code=&state=` or `?error=&state=`). */
export function isSignInCallback(url: URL): boolean {
  const params = url.searchParams;
  return params.has('state') && (params.has('code') || params.has('error'));
}

/** Whether `url` is the provider sending the browser back after sign-out (`?state=` alone). */
export function isSignOutCallback(url: URL): boolean {
  return url.searchParams.has('state') && !isSignInCallback(url);
}

/** The page's URL without the callback's query parameters (the rest of the query and the hash stay). */
export function withoutCallbackParams(url: URL): string {
  const clean = new URL(url);
  for (const name of ['code', 'state', 'session_state', 'iss', 'error', 'error_description', 'error_uri']) clean.searchParams.delete(name);
  return `${clean.pathname}${clean.search}${clean.hash}`;
}

/** What the page shows for the signed-in user: the `name` claim, else the subject. */
export function displayName(profile: { readonly sub: string; readonly name?: string | undefined }): string {
  const name = profile.name?.trim();
  return name !== undefined && name !== '' ? name : profile.sub;
}

export class PageAuth {
  private readonly manager: UserManager;
  private redirecting = false;

  constructor(settings: UserManagerSettings) {
    this.manager = new UserManager(settings);
  }

  /** Completes the sign-in the provider redirected back with; the caller cleans the URL. */
  async completeSignIn(url: string): Promise<User> {
    return this.manager.signinRedirectCallback(url);
  }

  /** Completes the sign-out the provider redirected back from (drops its stored request state). */
  async completeSignOut(url: string): Promise<void> {
    await this.manager.signoutRedirectCallback(url);
  }

  /** The signed-in user, or null (never signed in, signed out, or the token expired). */
  async user(): Promise<User | null> {
    const user = await this.manager.getUser();
    if (user === null) return null;
    if (user.expired === true) {
      await this.manager.removeUser();
      return null;
    }
    return user;
  }

  async accessToken(): Promise<string | null> {
    return (await this.user())?.access_token ?? null;
  }

  /** Leaves for the provider's sign-in page (once, however many requests were refused at the same time). */
  async signIn(): Promise<void> {
    if (this.redirecting) return;
    this.redirecting = true;
    try {
      await this.manager.removeUser();
      await this.manager.signinRedirect();
    } catch (error) {
      this.redirecting = false;
      throw error;
    }
  }

  /** Forgets the user here and ends the provider's session, which sends the browser back to the page. */
  async signOut(): Promise<void> {
    // oidc-client-ts sends the stored ID token as id_token_hint and removes the user before it leaves.
    await this.manager.signoutRedirect();
  }
}

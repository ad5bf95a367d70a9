import type { AuthConfig } from '../core/config.js';
import { AuthError } from './errors.js';
import { principalOf, type Principal } from './principal.js';
import { TokenVerifier } from './token-verifier.js';

/** Turns a request's credentials into the caller. */
export interface Authenticator {
  readonly mode: AuthConfig['mode'];
  /** `authorization`: the header's value; `sourceIp`: the peer address (anonymous mode files records under it). */
  authenticate(request: { authorization: string | undefined; sourceIp: string }): Promise<Principal>;
}

/** Bearer access tokens of one OpenID issuer. */
export class BearerAuthenticator implements Authenticator {
  readonly mode = 'oidc' as const;
  private readonly verifier: TokenVerifier;

  constructor(private readonly config: Extract<AuthConfig, { mode: 'oidc' }>) {
    this.verifier = new TokenVerifier({ issuer: config.issuer, audiences: config.audiences });
  }

  async authenticate({ authorization }: { authorization: string | undefined }): Promise<Principal> {
    if (authorization === undefined || authorization.trim() === '') throw new AuthError('unauthenticated', 'a bearer token is required (Authorization: Bearer <access token>)');
    const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization);
    if (!match) throw new AuthError('invalid_token', 'the Authorization header is not a bearer token');
    const token = await this.verifier.verify(match[1]!);
    return principalOf(token.subject, token.scopes, this.config);
  }
}

/**
 * Anonymous mode (private demos only): nobody is checked; each source address is one owner with the user scope,
 * so quotas and ownership apply per address. There is no operator.
 */
export class AnonymousAuthenticator implements Authenticator {
  readonly mode = 'anonymous' as const;

  constructor(private readonly config: Extract<AuthConfig, { mode: 'anonymous' }>) {}

  async authenticate({ sourceIp }: { sourceIp: string }): Promise<Principal> {
    return principalOf(`anonymous:${sourceIp}`, [this.config.userScope], this.config, true);
  }
}

export function createAuthenticator(config: AuthConfig): Authenticator {
  return config.mode === 'oidc' ? new BearerAuthenticator(config) : new AnonymousAuthenticator(config);
}

/** The warning anonymous mode prints at start, wherever it runs. */
export const ANONYMOUS_WARNING =
  '!!! ANONYMOUS MODE (BLIPLINE_AUTH=anonymous): NOBODY IS AUTHENTICATED. Every source address is one owner; anyone who can reach the API can upload and read. For private demos only. !!!';

import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { z } from 'zod';
import { AuthError, AuthUnavailableError } from './errors.js';

/** Signature algorithms accepted; never `none` and no shared-secret (HS*) algorithms. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'];

/** Seconds of clock skew tolerated on `exp` and `nbf`. */
const CLOCK_TOLERANCE_SECONDS = 5;

const discoverySchema = z.object({ issuer: z.string(), jwks_uri: z.url() });

/** The claims the API reads from a verified access token. */
const claimsSchema = z.object({
  sub: z.string().min(1).max(256),
  aud: z.union([z.string(), z.array(z.string())]).optional(),
  client_id: z.string().optional(),
  scope: z.string().optional(),
  scp: z.array(z.string()).optional(),
  token_use: z.string().optional(),
});

export interface VerifiedToken {
  subject: string;
  scopes: string[];
}

export interface TokenVerifierOptions {
  issuer: string;
  /** Accepted when `aud` holds one of these or, without `aud` (Cognito access tokens), `client_id` is one. */
  audiences: string[];
  /** Bound of the discovery and key fetches. @default 5000 */
  timeoutMs?: number;
}

/**
 * Verifies OAuth 2.0 access tokens (JWT) of one OpenID issuer: the signature against the issuer's keys
 * (found through its discovery document, cached and refreshed by jose when a new `kid` appears), the issuer,
 * the audience, `exp` and `nbf`. Every failure is an AuthError with a reason the caller may see.
 */
export class TokenVerifier {
  private keys: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  private readonly timeoutMs: number;

  constructor(private readonly options: TokenVerifierOptions) {
    this.timeoutMs = options.timeoutMs ?? 5_000;
  }

  private discover(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    this.keys ??= (async () => {
      const url = `${this.options.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
      let body: unknown;
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs), headers: { accept: 'application/json' } });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        body = await res.json();
      } catch (cause) {
        throw new AuthUnavailableError(`the identity provider's discovery document ${url} could not be read: ${(cause as Error).message}`, { cause });
      }
      const parsed = discoverySchema.safeParse(body);
      if (!parsed.success) throw new AuthUnavailableError(`the discovery document ${url} has no valid issuer and jwks_uri`);
      if (parsed.data.issuer !== this.options.issuer) {
        throw new AuthUnavailableError(`the discovery document ${url} names issuer ${parsed.data.issuer}, not the configured ${this.options.issuer}`);
      }
      return createRemoteJWKSet(new URL(parsed.data.jwks_uri), { timeoutDuration: this.timeoutMs });
    })();
    // A failed discovery is tried again on the next request rather than cached.
    this.keys.catch(() => {
      this.keys = undefined;
    });
    return this.keys;
  }

  async verify(token: string): Promise<VerifiedToken> {
    const keys = await this.discover();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, { issuer: this.options.issuer, algorithms: ALGORITHMS, clockTolerance: CLOCK_TOLERANCE_SECONDS, requiredClaims: ['exp', 'sub'] }));
    } catch (error) {
      throw describe(error);
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) throw new AuthError('invalid_token', 'the token lacks a valid subject');
    const { aud, client_id: clientId, token_use: tokenUse } = claims.data;
    if (tokenUse !== undefined && tokenUse !== 'access') throw new AuthError('invalid_token', 'the token is not an access token');
    const audiences = aud === undefined ? [] : Array.isArray(aud) ? aud : [aud];
    const accepted = audiences.length > 0 ? audiences.some((a) => this.options.audiences.includes(a)) : clientId !== undefined && this.options.audiences.includes(clientId);
    if (!accepted) throw new AuthError('invalid_token', 'the token was issued for another audience');
    const scopes = claims.data.scp ?? (claims.data.scope ?? '').split(' ').filter((s) => s !== '');
    return { subject: claims.data.sub, scopes };
  }
}

/** A jose failure as the reason the caller is told. */
function describe(error: unknown): Error {
  if (error instanceof errors.JWKSTimeout) return new AuthUnavailableError('the identity provider did not answer in time', { cause: error });
  if (error instanceof errors.JWTExpired) return new AuthError('invalid_token', 'the token has expired', { cause: error });
  if (error instanceof errors.JWTClaimValidationFailed) {
    const reason =
      error.claim === 'nbf' ? 'the token is not valid yet' : error.claim === 'iss' ? 'the token was issued by another issuer' : `the token's ${error.claim} claim is invalid`;
    return new AuthError('invalid_token', reason, { cause: error });
  }
  if (error instanceof errors.JWKSNoMatchingKey) return new AuthError('invalid_token', "the token is not signed by one of the issuer's keys", { cause: error });
  if (error instanceof errors.JWSSignatureVerificationFailed) return new AuthError('invalid_token', 'the token signature is invalid', { cause: error });
  if (error instanceof errors.JOSEAlgNotAllowed) return new AuthError('invalid_token', 'the token is signed with an algorithm that is not accepted', { cause: error });
  if (error instanceof errors.JOSEError) return new AuthError('invalid_token', 'the token is malformed', { cause: error });
  if (error instanceof AuthUnavailableError) return error;
  return new AuthUnavailableError(`the issuer's keys could not be read: ${(error as Error).message}`, { cause: error });
}

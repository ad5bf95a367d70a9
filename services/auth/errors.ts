import { BliplineError } from '../core/errors.js';

/** Why a bearer token was not accepted (RFC 6750 error codes); answered 401 (403 for a missing scope). */
export type AuthErrorCode = 'unauthenticated' | 'invalid_token' | 'insufficient_scope';

/** A request that is not (sufficiently) authenticated; the message is safe to show the caller. */
export class AuthError extends BliplineError {
  constructor(
    readonly authCode: AuthErrorCode,
    message: string,
    options?: { cause?: unknown; scope?: string },
  ) {
    super(authCode, message, options);
    this.scope = options?.scope;
  }

  readonly scope: string | undefined;

  get status(): 401 | 403 {
    return this.authCode === 'insufficient_scope' ? 403 : 401;
  }

  /** The `WWW-Authenticate` challenge (RFC 6750 section 3). */
  get challenge(): string {
    const quote = (v: string) => `"${v.replace(/["\\]/g, '')}"`;
    const parts = [`realm=${quote('blipline')}`];
    if (this.authCode !== 'unauthenticated') parts.push(`error=${quote(this.authCode)}`, `error_description=${quote(this.message)}`);
    if (this.scope) parts.push(`scope=${quote(this.scope)}`);
    return `Bearer ${parts.join(', ')}`;
  }
}

/** The identity provider could not be reached (discovery or keys): a 503, not the caller's fault. */
export class AuthUnavailableError extends BliplineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('auth_unavailable', message, options);
  }
}

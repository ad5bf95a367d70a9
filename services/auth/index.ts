export { ANONYMOUS_WARNING, createAuthenticator, type Authenticator } from './authenticator.js';
export { AuthError, AuthUnavailableError } from './errors.js';
export type { Principal } from './principal.js';

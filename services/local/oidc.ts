import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Logger } from 'pino';
import { LOCALHOST } from './net.js';

/** The API's audience (resource indicator) in local tokens. */
export const LOCAL_AUDIENCE = 'urn:blipline:api';
export const LOCAL_SCOPES = { user: 'blipline/images', operator: 'blipline/operator' } as const;
/** The page's public client (authorization code + PKCE; any loopback port may be its redirect). */
export const LOCAL_WEB_CLIENT_ID = 'blipline-web';
/** Dev users who can sign in on the provider's login page (any password), and dev machine clients of the same names. */
export const LOCAL_USERS = ['alice', 'bob'] as const;
export type LocalClientName = 'alice' | 'bob' | 'operator';

export interface LocalOidc {
  issuer: string;
  tokenUrl: string;
  audience: string;
  webClientId: string;
  scopes: typeof LOCAL_SCOPES;
  /** Client-credentials clients: a token of alice or bob acts as that owner; operator has the operator scope. */
  clients: Record<LocalClientName, { clientId: string; clientSecret: string }>;
  /** A client-credentials access token of a dev client (its own scope). */
  token(client: LocalClientName): Promise<string>;
  stop(): Promise<void>;
}

/**
 * A real OpenID provider for the local stack (the certified `oidc-provider` package) on a free 127.0.0.1 port:
 * signing keys made for this run, JWT access tokens for the API's audience, the dev users' sign-in page (its
 * development login: any password) for the page, and client-credentials clients for scripts and tests.
 */
export async function startLocalOidc(options: { logger: Logger; signingKey?: JWK }): Promise<LocalOidc> {
  const { default: Provider, errors, interactionPolicy } = await import('oidc-provider');
  // The page is a first-party client whose grant loadExistingGrant makes: without the check that asks a native
  // (loopback) client's user for consent on every sign-in, signing in is the login page alone.
  const policy = interactionPolicy.base();
  policy.get('consent')?.checks.remove('native_client_prompt');
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOCALHOST, () => resolve());
  });
  const issuer = `http://${LOCALHOST}:${(server.address() as AddressInfo).port}`;
  const jwk = options.signingKey ?? { ...(await exportJWK((await generateKeyPair('RS256', { extractable: true })).privateKey)), kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' };
  const secret = () => randomBytes(24).toString('base64url');
  const clients: LocalOidc['clients'] = {
    alice: { clientId: 'alice', clientSecret: secret() },
    bob: { clientId: 'bob', clientSecret: secret() },
    operator: { clientId: 'operator', clientSecret: secret() },
  };
  const clientScope: Record<LocalClientName, string> = { alice: LOCAL_SCOPES.user, bob: LOCAL_SCOPES.user, operator: LOCAL_SCOPES.operator };
  const isLoopback = (origin: string) => /^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?$/.test(origin);

  // oidc-provider warns on the console that its in-memory store and its login page are for development only:
  // exactly what the local stack uses them for (said once in the stack's own log below).
  const consoleWarn = console.warn;
  console.warn = () => undefined;
  let provider: InstanceType<typeof Provider>;
  try {
    provider = new Provider(issuer, {
      jwks: { keys: [jwk] },
      cookies: { keys: [secret()] },
      clients: [
        {
          client_id: LOCAL_WEB_CLIENT_ID,
          application_type: 'native', // loopback redirects on any port (RFC 8252), so any local page port works
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          redirect_uris: [`http://${LOCALHOST}/`, 'http://localhost/'],
          post_logout_redirect_uris: [`http://${LOCALHOST}/`, 'http://localhost/'],
        },
        ...(Object.keys(clients) as LocalClientName[]).map((name) => ({
          client_id: clients[name].clientId,
          client_secret: clients[name].clientSecret,
          grant_types: ['client_credentials'],
          response_types: [],
          redirect_uris: [],
          scope: clientScope[name],
        })),
      ],
      findAccount: (_ctx, id) =>
        (LOCAL_USERS as readonly string[]).includes(id) ? { accountId: id, claims: () => ({ sub: id, name: id, email: `${id}@example.test` }) } : undefined,
      claims: { openid: ['sub'], profile: ['name'], email: ['email'] },
      scopes: ['openid', 'profile', 'email', 'offline_access', LOCAL_SCOPES.user, LOCAL_SCOPES.operator],
      pkce: { required: () => true },
      interactions: { policy },
      clientBasedCORS: (_ctx, origin) => isLoopback(origin),
      features: {
        devInteractions: { enabled: true },
        clientCredentials: { enabled: true },
        rpInitiatedLogout: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => LOCAL_AUDIENCE,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx, resource) => {
            if (resource !== LOCAL_AUDIENCE) throw new errors.InvalidTarget();
            return { scope: `${LOCAL_SCOPES.user} ${LOCAL_SCOPES.operator}`, audience: LOCAL_AUDIENCE, accessTokenTTL: 3600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
          },
        },
      },
      // The page is a first-party client: the signed-in user's grant is made without a consent screen.
      loadExistingGrant: async (ctx) => {
        const { client, session } = ctx.oidc;
        if (!client || !session?.accountId) return undefined;
        const existing = session.grantIdFor(client.clientId);
        if (existing) return ctx.oidc.provider.Grant.find(existing);
        const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
        // The provider lists the API's scope among its own (requestable) scopes, so the grant holds it on both sides.
        grant.addOIDCScope(`openid profile email offline_access ${LOCAL_SCOPES.user}`);
        grant.addResourceScope(LOCAL_AUDIENCE, LOCAL_SCOPES.user);
        await grant.save();
        return grant;
      },
      ttl: { AccessToken: 3600, ClientCredentials: 3600, IdToken: 3600, Session: 86_400, Grant: 86_400, Interaction: 600, AuthorizationCode: 60, RefreshToken: 86_400 },
    });
  } finally {
    console.warn = consoleWarn;
  }
  options.logger.debug({ issuer }, 'local OpenID provider: in-memory store, development login page (any password)');
  // The provider logs its development-only warnings through console; the local stack's logger says what it is.
  provider.on('server_error', (_ctx, error) => options.logger.error({ err: error }, 'local OpenID provider error'));
  server.on('request', provider.callback());
  const tokenUrl = `${issuer}/token`;

  return {
    issuer,
    tokenUrl,
    audience: LOCAL_AUDIENCE,
    webClientId: LOCAL_WEB_CLIENT_ID,
    scopes: LOCAL_SCOPES,
    clients,
    async token(name) {
      const client = clients[name];
      const res = await fetch(tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret, scope: clientScope[name] }),
      });
      const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
      if (!res.ok || !body.access_token) throw new Error(`local OpenID provider refused a token for ${name}: ${body.error ?? res.status} ${body.error_description ?? ''}`);
      return body.access_token;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

import { z } from 'zod';

type DevClientName = 'alice' | 'bob' | 'operator';

/** The `auth` section of `blipline dev --json`'s ready line, as far as a token request needs it. */
export interface DevAuth {
  tokenUrl: string;
  clients: Record<DevClientName, { clientId: string; clientSecret: string }>;
  scopes: { user: string; operator: string };
}

/**
 * A client-credentials access token of a dev client (alice and bob act as owners of that name, operator has the
 * operator scope), with the plain form POST to `auth.tokenUrl` that scripts use.
 */
export async function devClientToken(ready: { auth: DevAuth }, who: DevClientName): Promise<string> {
  const client = ready.auth.clients[who];
  const scope = who === 'operator' ? ready.auth.scopes.operator : ready.auth.scopes.user;
  const response = await fetch(ready.auth.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret, scope }),
  });
  const body = z.looseObject({ access_token: z.string().min(1) }).safeParse(await response.json());
  if (!response.ok || !body.success) throw new Error(`${ready.auth.tokenUrl} gave ${who} no token (HTTP ${response.status})`);
  return body.data.access_token;
}

import type { LocalStack } from '../../services/local/index.js';
import type { LocalClientName } from '../../services/local/oidc.js';

const tokens = new WeakMap<LocalStack, Map<LocalClientName, string>>();

/**
 * `Authorization` header of a dev client's client-credentials token from the stack's OpenID provider (alice and
 * bob act as owners of that name, operator has the operator scope); cached per stack.
 */
export async function authHeader(stack: LocalStack, who: LocalClientName): Promise<{ authorization: string }> {
  let cache = tokens.get(stack);
  if (!cache) tokens.set(stack, (cache = new Map()));
  let token = cache.get(who);
  if (!token) cache.set(who, (token = await stack.oidc.token(who)));
  return { authorization: `Bearer ${token}` };
}

/**
 * Who is calling: the owner their records are filed under and what their token allows. `owner` is the
 * token's subject (`sub`; for a client-credentials token the client id), or `anonymous:<source address>`
 * in anonymous mode.
 */
export interface Principal {
  readonly owner: string;
  readonly scopes: ReadonlySet<string>;
  /** May upload, read, ask about and delete its own images. */
  readonly user: boolean;
  /** May read, ask about and delete the records of objects dropped into the bucket by other writers. */
  readonly operator: boolean;
  readonly anonymous: boolean;
}

export interface ScopeNames {
  userScope: string;
  operatorScope: string;
}

export function principalOf(owner: string, scopes: Iterable<string>, names: ScopeNames, anonymous = false): Principal {
  const set = new Set(scopes);
  return { owner, scopes: set, user: set.has(names.userScope), operator: set.has(names.operatorScope), anonymous };
}

import { fail, int } from './validate.js';


/** Short names of the resource server's scopes (Cognito scopes are `blipline/<name>`). */
export type ScopeName = 'images' | 'operator';

/** A Cognito app client for scripts and services (client-credentials grant). */
export interface MachineClientProps {
  /** App client name, letters, digits, `-` and `_`; a stack output carries its id. */
  readonly name: string;
  /** Scopes the client may ask for: `images` acts as an owner (the client id is the owner), `operator` reads dropped objects. */
  readonly scopes: ScopeName[];
}

/** Identity by an Amazon Cognito user pool the stack creates. */
export interface CognitoAuthProps {
  readonly mode: 'cognito';
  /**
   * Prefix of the hosted sign-in domain `https://<prefix>.auth.<region>.amazoncognito.com`
   * (lowercase letters, digits, hyphens; unique in the region).
   * @default 'blipline-' + the first 8 hex digits of the CloudFormation stack id
   */
  readonly domainPrefix?: string;
  /**
   * Whether anyone may create an account on the hosted sign-in page. Off, administrators invite
   * users (Cognito console or `aws cognito-idp admin-create-user`): every account is a quota, so an
   * open sign-up lets one person multiply their quota.
   * @default false
   */
  readonly selfSignUp?: boolean;
  /**
   * Multi-factor authentication for users of the hosted sign-in (authenticator apps, TOTP).
   * @default 'required'
   */
  readonly mfa?: 'required' | 'optional' | 'off';
  /**
   * Cognito threat protection (compromised credentials, adaptive authentication): switches the user
   * pool to the Plus feature plan, billed per monthly active user.
   * @default false
   */
  readonly threatProtection?: boolean;
  /**
   * Machine clients besides the operator client (client-credentials grant) the stack always creates.
   * @default [] (only `operator`, scope blipline/operator)
   */
  readonly machineClients?: MachineClientProps[];
  /**
   * More sign-in callback and sign-out URLs of the page client, e.g. `http://localhost:5173/` for a
   * page served from a laptop against the deployed API. The stack's own page URL is always there.
   * @default []
   */
  readonly extraCallbackUrls?: string[];
}

/** Identity by an OpenID Connect issuer that already exists (Auth0, Entra ID, Keycloak, another user pool, ...). */
export interface OidcAuthProps {
  readonly mode: 'oidc';
  /** Issuer URL (`iss` of its tokens); its discovery document is `<issuer>/.well-known/openid-configuration`. */
  readonly issuer: string;
  /** Accepted audiences: `aud` of the access tokens, or for tokens without `aud`, their `client_id`. */
  readonly audience: string[];
  /** The page's public client id (authorization code + PKCE). */
  readonly webClientId: string;
  /**
   * Sign-out endpoint, when the issuer's discovery document has no `end_session_endpoint`.
   * @default - taken from discovery
   */
  readonly logoutUrl?: string;
  /**
   * Scope a user's token needs for their own images.
   * @default 'blipline/images'
   */
  readonly userScope?: string;
  /**
   * Scope that reads and deletes records of objects dropped into the bucket.
   * @default 'blipline/operator'
   */
  readonly operatorScope?: string;
}

/**
 * No sign-in at all: anyone may upload and ask within quotas counted per source IP. For private
 * demos only; the stack refuses it unless `allowAnonymous: true` is set as well.
 */
export interface AnonymousAuthProps {
  readonly mode: 'anonymous';
}

export type AuthProps = CognitoAuthProps | OidcAuthProps | AnonymousAuthProps;

/** Per-owner limits counted in DynamoDB (every API instance shares them); in anonymous mode per source IP. */
export interface QuotaProps {
  /** @default 100 uploads per owner per UTC day */
  readonly uploadsPerDay?: number;
  /** @default 524288000 (500 MiB) uploaded per owner per UTC day */
  readonly uploadBytesPerDay?: number;
  /** @default 20 questions per image */
  readonly questionsPerImage?: number;
  /** @default 10 questions per owner per minute */
  readonly questionsPerMinute?: number;
}

/** A custom domain of the HTTP API (regional endpoint); with it the execute-api endpoint is turned off. */
export interface ApiDomainProps {
  /** e.g. `api.photos.example.com`; point its DNS (CNAME or alias) at the `ApiDomainTarget` stack output. */
  readonly domainName: string;
  /** ARN of an ACM certificate for domainName in the stack's region. */
  readonly certificateArn: string;
}

/** CloudFront + AWS WAF in front of the page and the API. */
export interface EdgeProps {
  /**
   * Put CloudFront and the web ACL in front. Off, browsers call the HTTP API directly and there is
   * no WAF, no rate limit per IP and no security headers from the edge.
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * Requests one IP may make in any 5 minutes before WAF blocks it (rate-based rule).
   * @default 2000
   */
  readonly rateLimitPer5Minutes?: number;
  /**
   * ARN of an existing web ACL of scope CLOUDFRONT (made in us-east-1) to use instead of creating one.
   * @default - the stack creates one: in the stack itself in us-east-1, else in a companion stack
   * `<stackName>-Edge` in us-east-1
   */
  readonly webAclArn?: string;
  /**
   * A domain of the distribution (the page's address), with an ACM certificate in us-east-1.
   * Viewers then need TLS 1.2 or later.
   * @default - the distribution's *.cloudfront.net name (TLS 1.0+ as CloudFront sets it for that name)
   */
  readonly domain?: { readonly domainName: string; readonly certificateArn: string };
  /**
   * The page's Content-Security-Policy.
   * @default - self for scripts, styles, fonts and frames none; images also blob: and data:;
   * connections to self, the bucket's S3 endpoint and the identity provider
   */
  readonly contentSecurityPolicy?: string;
}

/** Expiry of the bucket's objects, per prefix. */
export interface RetentionProps {
  /**
   * Days objects dropped into the bucket by other writers (every key outside `uploads/`) are kept;
   * 'never' keeps them until their writer (or the operator, with DELETE) removes them. They belong
   * to whoever dropped them, so blipline does not expire them unless told to. S3 filters lifecycle
   * rules by prefix only: a number here covers the whole bucket, so an API upload then expires at
   * the earlier of this and uploadRetentionDays.
   * @default 'never'
   */
  readonly droppedObjectDays?: number | 'never';
  /**
   * Days the bucket's server access logs and the CloudFront logs are kept.
   * @default 90
   */
  readonly accessLogDays?: number;
}

export interface ResolvedIdentity {
  readonly mode: 'cognito' | 'oidc' | 'anonymous';
  readonly cognito: Required<Omit<CognitoAuthProps, 'domainPrefix'>> & { domainPrefix: string | undefined } | undefined;
  readonly oidc: Required<Omit<OidcAuthProps, 'logoutUrl'>> & { logoutUrl: string | undefined } | undefined;
  readonly userScope: string;
  readonly operatorScope: string;
}

export interface ResolvedQuotas {
  uploadsPerDay: number;
  uploadBytesPerDay: number;
  questionsPerImage: number;
  questionsPerMinute: number;
}

export interface ResolvedEdge {
  enabled: boolean;
  rateLimitPer5Minutes: number;
  webAclArn: string | undefined;
  domain: { domainName: string; certificateArn: string } | undefined;
  contentSecurityPolicy: string | undefined;
}

/** The resource server's identifier: Cognito scopes are `<identifier>/<scope>`. */
export const RESOURCE_SERVER_ID = 'blipline';
export const DEFAULT_USER_SCOPE = `${RESOURCE_SERVER_ID}/images`;
export const DEFAULT_OPERATOR_SCOPE = `${RESOURCE_SERVER_ID}/operator`;

const DOMAIN_PREFIX = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const CLIENT_NAME = /^[\w-]{1,100}$/;
const DOMAIN_NAME = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const ACM_ARN = /^arn:aws[\w-]*:acm:([a-z0-9-]+):\d{12}:certificate\/[\w-]+$/;
const WEB_ACL_ARN = /^arn:aws[\w-]*:wafv2:us-east-1:\d{12}:global\/webacl\/[\w-]+\/[\w-]+$/;

function httpsUrl(name: string, value: string, allowLocalhost = false): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    fail(`${name} ${JSON.stringify(value)} is not a URL; use e.g. 'https://login.example.com'`);
  }
  const local = url.protocol === 'http:' && (url.hostname === 'localhost' || url.hostname === '127.0.0.1');
  if (url.protocol !== 'https:' && !(allowLocalhost && local)) fail(`${name} ${JSON.stringify(value)} must use https://${allowLocalhost ? ' (http:// only for localhost)' : ''}`);
  return value;
}

/**
 * Resolves how callers sign in. Anonymous mode must be asked for twice, in words: `auth: { mode:
 * 'anonymous' }` and `allowAnonymous: true`.
 */
export function resolveIdentity(auth: AuthProps | undefined, allowAnonymous: boolean | undefined): ResolvedIdentity {
  const props: AuthProps = auth ?? { mode: 'cognito' };
  if (props.mode === 'anonymous') {
    if (allowAnonymous !== true) {
      fail(
        "auth.mode 'anonymous' lets anyone on the internet upload and ask questions with no sign-in (quotas per source IP only); " +
          "if that is really wanted (a private demo), also set allowAnonymous: true (CDK context: -c auth=anonymous -c allowAnonymous=true); " +
          "otherwise remove auth to use the Cognito user pool the stack creates, or set auth: { mode: 'oidc', issuer, audience, webClientId }",
      );
    }
    return { mode: 'anonymous', cognito: undefined, oidc: undefined, userScope: DEFAULT_USER_SCOPE, operatorScope: DEFAULT_OPERATOR_SCOPE };
  }
  if (allowAnonymous === true) fail(`allowAnonymous: true is set but auth.mode is '${props.mode}'; remove allowAnonymous (it only confirms auth.mode 'anonymous')`);

  if (props.mode === 'oidc') {
    httpsUrl('auth.issuer', props.issuer);
    if (props.issuer.endsWith('/')) fail(`auth.issuer ${JSON.stringify(props.issuer)} ends with '/'; give it exactly as the tokens' iss claim (usually without a trailing slash)`);
    if (props.audience.length === 0) fail(`auth.audience is empty; give at least one accepted audience (an API identifier or client id)`);
    for (const a of props.audience) if (a.trim() === '' || a.includes(',')) fail(`auth.audience entry ${JSON.stringify(a)} is empty or contains a comma`);
    if (props.webClientId.trim() === '') fail('auth.webClientId is empty; give the client id the page signs in with');
    if (props.logoutUrl !== undefined) httpsUrl('auth.logoutUrl', props.logoutUrl);
    const userScope = props.userScope ?? DEFAULT_USER_SCOPE;
    const operatorScope = props.operatorScope ?? DEFAULT_OPERATOR_SCOPE;
    if (userScope === operatorScope) fail(`auth.userScope and auth.operatorScope are both ${JSON.stringify(userScope)}; the operator scope must differ`);
    return {
      mode: 'oidc',
      cognito: undefined,
      oidc: { ...props, userScope, operatorScope, logoutUrl: props.logoutUrl },
      userScope,
      operatorScope,
    };
  }

  if (props.domainPrefix !== undefined && (!DOMAIN_PREFIX.test(props.domainPrefix) || /aws|amazon|cognito/.test(props.domainPrefix))) {
    fail(`auth.domainPrefix ${JSON.stringify(props.domainPrefix)} must be lowercase letters, digits and inner hyphens (1-63) without 'aws', 'amazon' or 'cognito'`);
  }
  const machineClients = props.machineClients ?? [];
  const names = new Set<string>(['web', 'operator']);
  for (const client of machineClients) {
    if (!CLIENT_NAME.test(client.name)) fail(`auth.machineClients name ${JSON.stringify(client.name)} must be 1-100 letters, digits, '-' or '_'`);
    if (names.has(client.name)) fail(`auth.machineClients name ${JSON.stringify(client.name)} is taken; 'web' and 'operator' are the stack's own clients and names must be unique`);
    names.add(client.name);
    if (client.scopes.length === 0) fail(`auth.machineClients ${client.name} has no scopes; give 'images' and/or 'operator'`);
    for (const scope of client.scopes) if (scope !== 'images' && scope !== 'operator') fail(`auth.machineClients ${client.name} scope ${JSON.stringify(scope)} is unknown; use 'images' or 'operator'`);
  }
  const extraCallbackUrls = (props.extraCallbackUrls ?? []).map((u) => httpsUrl('auth.extraCallbackUrls entry', u, true));
  return {
    mode: 'cognito',
    cognito: {
      mode: 'cognito',
      domainPrefix: props.domainPrefix,
      selfSignUp: props.selfSignUp ?? false,
      mfa: props.mfa ?? 'required',
      threatProtection: props.threatProtection ?? false,
      machineClients,
      extraCallbackUrls,
    },
    oidc: undefined,
    userScope: DEFAULT_USER_SCOPE,
    operatorScope: DEFAULT_OPERATOR_SCOPE,
  };
}

export function resolveQuotas(q: QuotaProps = {}): ResolvedQuotas {
  return {
    uploadsPerDay: int('quotas.uploadsPerDay', q.uploadsPerDay ?? 100, 1, 1_000_000, 'uploads per owner per UTC day'),
    uploadBytesPerDay: int('quotas.uploadBytesPerDay', q.uploadBytesPerDay ?? 524_288_000, 1, 1024 ** 4, 'bytes per owner per UTC day'),
    questionsPerImage: int('quotas.questionsPerImage', q.questionsPerImage ?? 20, 1, 10_000, 'questions per image'),
    questionsPerMinute: int('quotas.questionsPerMinute', q.questionsPerMinute ?? 10, 1, 10_000, 'questions per owner per minute'),
  };
}

export function resolveEdge(e: EdgeProps = {}): ResolvedEdge {
  const enabled = e.enabled ?? true;
  if (!enabled && (e.webAclArn !== undefined || e.domain !== undefined || e.contentSecurityPolicy !== undefined)) {
    fail('edge.enabled is false but edge.webAclArn, edge.domain or edge.contentSecurityPolicy is set; remove them or turn the edge on');
  }
  if (e.webAclArn !== undefined && !WEB_ACL_ARN.test(e.webAclArn)) {
    fail(`edge.webAclArn ${JSON.stringify(e.webAclArn)} is not the ARN of a CloudFront web ACL; it looks like arn:aws:wafv2:us-east-1:<account>:global/webacl/<name>/<id>`);
  }
  if (e.domain !== undefined) {
    if (!DOMAIN_NAME.test(e.domain.domainName)) fail(`edge.domain.domainName ${JSON.stringify(e.domain.domainName)} is not a domain name`);
    const region = ACM_ARN.exec(e.domain.certificateArn)?.[1];
    if (region !== 'us-east-1') fail(`edge.domain.certificateArn must be an ACM certificate ARN in us-east-1 (CloudFront reads certificates only there); got ${JSON.stringify(e.domain.certificateArn)}`);
  }
  return {
    enabled,
    rateLimitPer5Minutes: int('edge.rateLimitPer5Minutes', e.rateLimitPer5Minutes ?? 2000, 10, 2_000_000_000, "AWS WAF's rate-based rules count from 10"),
    webAclArn: e.webAclArn,
    domain: e.domain,
    contentSecurityPolicy: e.contentSecurityPolicy,
  };
}

export function resolveApiDomain(d: ApiDomainProps | undefined): ApiDomainProps | undefined {
  if (d === undefined) return undefined;
  if (!DOMAIN_NAME.test(d.domainName)) fail(`apiDomain.domainName ${JSON.stringify(d.domainName)} is not a domain name`);
  if (!ACM_ARN.test(d.certificateArn)) fail(`apiDomain.certificateArn ${JSON.stringify(d.certificateArn)} is not an ACM certificate ARN (in the stack's region)`);
  return d;
}

export function resolveDroppedObjectDays(value: number | 'never' | undefined): number | undefined {
  if (value === undefined || value === 'never') return undefined;
  return int('retention.droppedObjectDays', value, 1, 36_500, "or 'never' to keep dropped objects until someone deletes them");
}

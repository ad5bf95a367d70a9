import { CfnOutput, Duration, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import { InfraError } from '../errors.js';
import type { ResolvedIdentity, ScopeName } from '../security-config.js';
import { RESOURCE_SERVER_ID } from '../security-config.js';

export interface IdentityProps {
  readonly identity: ResolvedIdentity;
  readonly removalPolicy: RemovalPolicy;
}

/** What the API's JWT authorizer and the runtime trust. */
export interface TrustedIssuer {
  /** Issuer URL (`iss` of the tokens). */
  readonly issuer: string;
  /** Accepted audiences (Cognito: the app client ids, matched against `client_id`). */
  readonly audiences: string[];
  /** The page's public client id. */
  readonly webClientId: string;
  /** Sign-out endpoint when discovery has none (Cognito's hosted domain `/logout`). */
  readonly logoutUrl: string | undefined;
}

/**
 * Who the API trusts: either an Amazon Cognito user pool made here (hosted sign-in, a resource
 * server `blipline` with scopes `images` and `operator`, the page's public client with
 * authorization code + PKCE, and machine clients with the client-credentials grant), or an OIDC
 * issuer that already exists. Built in two steps because the page's client needs the page URL,
 * which needs CloudFront, whose security headers need the sign-in origins: first the pool and its
 * domain (connectOrigins), then trust(pageUrl) adds the page's client.
 */
export class Identity extends Construct {
  /** Origins the page talks to while signing in (for its Content-Security-Policy connect-src). */
  readonly connectOrigins: string[];
  readonly userPool: cognito.UserPool | undefined;
  readonly domain: cognito.UserPoolDomain | undefined;
  webClient: cognito.UserPoolClient | undefined = undefined;
  /** Machine clients by name (`operator` and the extra ones). */
  readonly machineClients: Record<string, cognito.UserPoolClient> = {};
  private readonly identity: ResolvedIdentity;
  private readonly images: cognito.OAuthScope | undefined;

  constructor(scope: Construct, id: string, props: IdentityProps) {
    super(scope, id);
    const { identity } = props;
    this.identity = identity;
    if (identity.oidc !== undefined) {
      this.connectOrigins = [new URL(identity.oidc.issuer).origin];
      this.userPool = undefined;
      this.domain = undefined;
      this.images = undefined;
      return;
    }
    const settings = identity.cognito;
    if (settings === undefined) throw new InfraError('identity_misuse', 'Identity needs auth mode cognito or oidc (anonymous mode has no identity provider)');

    const mfa = { required: cognito.Mfa.REQUIRED, optional: cognito.Mfa.OPTIONAL, off: cognito.Mfa.OFF }[settings.mfa];
    this.userPool = new cognito.UserPool(this, 'UserPool', {
      selfSignUpEnabled: settings.selfSignUp,
      signInAliases: { email: true },
      autoVerify: { email: true },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      mfa,
      // Authenticator apps only: SMS would need an SNS role and costs per message.
      mfaSecondFactor: settings.mfa === 'off' ? undefined : { otp: true, sms: false },
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      featurePlan: settings.threatProtection ? cognito.FeaturePlan.PLUS : cognito.FeaturePlan.ESSENTIALS,
      standardThreatProtectionMode: settings.threatProtection ? cognito.StandardThreatProtectionMode.FULL_FUNCTION : undefined,
      deletionProtection: props.removalPolicy !== RemovalPolicy.DESTROY,
      removalPolicy: props.removalPolicy,
    });

    const scopes: Record<ScopeName, cognito.ResourceServerScope> = {
      images: new cognito.ResourceServerScope({ scopeName: 'images', scopeDescription: 'Upload, read, ask about and delete your own images' }),
      operator: new cognito.ResourceServerScope({ scopeName: 'operator', scopeDescription: 'Read and delete records of objects dropped into the bucket' }),
    };
    const resourceServer = this.userPool.addResourceServer('ResourceServer', {
      identifier: RESOURCE_SERVER_ID,
      userPoolResourceServerName: 'blipline API',
      scopes: Object.values(scopes),
    });
    const oauthScope = (name: ScopeName) => cognito.OAuthScope.resourceServer(resourceServer, scopes[name]);

    // Unique per deployment: the first block of the stack id's UUID.
    const stackUuid = Fn.select(2, Fn.split('/', Stack.of(this).stackId));
    const domainPrefix = settings.domainPrefix ?? Fn.join('-', ['blipline', Fn.select(0, Fn.split('-', stackUuid))]);
    this.domain = this.userPool.addDomain('Domain', { cognitoDomain: { domainPrefix } });
    this.images = oauthScope('images');

    const machine = [{ name: 'operator', scopes: ['operator'] as ScopeName[] }, ...settings.machineClients];
    for (const client of machine) {
      this.machineClients[client.name] = this.userPool.addClient(`MachineClient${client.name}`, {
        userPoolClientName: client.name,
        generateSecret: true,
        authFlows: {},
        oAuth: { flows: { clientCredentials: true }, scopes: client.scopes.map(oauthScope) },
        supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
        enableTokenRevocation: true,
        accessTokenValidity: Duration.hours(1),
      });
    }

    this.connectOrigins = [this.domain.baseUrl(), `https://cognito-idp.${Stack.of(this).region}.${Stack.of(this).urlSuffix}`];

    new CfnOutput(this, 'SignInDomain', { value: this.domain.baseUrl(), description: 'Hosted sign-in; its /oauth2/token issues client-credentials tokens' });
    new CfnOutput(this, 'UserPoolId', { value: this.userPool.userPoolId });
    for (const [name, client] of Object.entries(this.machineClients)) {
      new CfnOutput(this, `MachineClientId${name}`, { value: client.userPoolClientId, description: `Machine client ${name} (secret: aws cognito-idp describe-user-pool-client)` });
    }
  }

  /**
   * What the API trusts, once the page's URL is known: with Cognito this adds the page's public
   * client (authorization code + PKCE; callback and sign-out URL = the page, plus extraCallbackUrls).
   */
  trust(pageUrl: string): TrustedIssuer {
    const oidc = this.identity.oidc;
    if (oidc !== undefined) return { issuer: oidc.issuer, audiences: oidc.audience, webClientId: oidc.webClientId, logoutUrl: oidc.logoutUrl };
    const settings = this.identity.cognito;
    if (this.userPool === undefined || this.domain === undefined || this.images === undefined || settings === undefined) {
      throw new InfraError('identity_misuse', 'Identity.trust needs the user pool');
    }
    if (this.webClient !== undefined) throw new InfraError('identity_misuse', 'Identity.trust was called twice (the page has one client)');
    const urls = [pageUrl, ...settings.extraCallbackUrls];
    this.webClient = this.userPool.addClient('WebClient', {
      userPoolClientName: 'web',
      generateSecret: false,
      authFlows: {},
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE, this.images],
        callbackUrls: urls,
        logoutUrls: urls,
      },
      supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(7),
    });
    new CfnOutput(this, 'WebClientId', { value: this.webClient.userPoolClientId });
    const webClientId = this.webClient.userPoolClientId;
    return {
      // The `iss` of Cognito's tokens (what the JWT authorizer and the app compare it with).
      issuer: `https://cognito-idp.${Stack.of(this).region}.${Stack.of(this).urlSuffix}/${this.userPool.userPoolId}`,
      audiences: [webClientId, ...Object.values(this.machineClients).map((c) => c.userPoolClientId)],
      webClientId,
      logoutUrl: `${this.domain.baseUrl()}/logout`,
    };
  }
}

import { rmSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/app.js';
import { OPEN_ROUTES, OPERATOR_ROUTES, USER_ROUTES } from '../../lib/constructs/api.js';
import { CACHE_ACCESS_STRING } from '../../lib/constructs/cache.js';
import { FORWARDED_HEADERS } from '../../lib/constructs/edge.js';
import { StackConfigError } from '../../lib/errors.js';
import { cdkContext, functionEnvironment, logicalIdOf, type Resource, resourcesOf, type Synthesized, synthBlipline, workerContainer } from './support.js';

// Three syntheses: the default stack (Cognito, edge on, us-east-1: web ACL in the stack), a stack in
// eu-west-1 with an existing OIDC issuer and an API custom domain (web ACL in a us-east-1 companion
// stack), and an anonymous stack without the edge.
const byDefault = synthBlipline({ bundling: false });
const oidc = synthBlipline({
  bundling: false,
  props: {
    env: { region: 'eu-west-1' },
    auth: { mode: 'oidc', issuer: 'https://login.example.com/realms/photos', audience: ['blipline-api'], webClientId: 'photos-page' },
    apiDomain: { domainName: 'api.photos.example.com', certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc-123' },
  },
});
const anonymous = synthBlipline({ bundling: false, props: { auth: { mode: 'anonymous' }, allowAnonymous: true, edge: { enabled: false } } });
afterAll(() => {
  for (const s of [byDefault, oidc, anonymous]) rmSync(s.outdir, { recursive: true, force: true });
});

const resources = (s: Synthesized) => s.json.Resources as Record<string, Resource>;
const arn = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
const dynamicReference = (secretId: string) => ({ 'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: secretId }, ':SecretString:::}}']] });
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Principal?: unknown };
const statementsOf = (resource: Resource | undefined): Statement[] =>
  (resource?.Properties?.PolicyDocument as { Statement: Statement[] } | undefined)?.Statement ?? [];

/** Route key → its route resource's properties. */
function routes(s: Synthesized): Map<string, Record<string, unknown>> {
  const all = resourcesOf(s.json, 'AWS::ApiGatewayV2::Route').map(([, r]) => [r.Properties?.RouteKey as string, r.Properties ?? {}] as const);
  return new Map(all);
}

describe('identity: the JWT authorizer', () => {
  it('guards every route but the open ones, with the scopes each needs; $default is guarded too', () => {
    const byKey = routes(byDefault);
    const authorizer = logicalIdOf(byDefault.json, 'AWS::ApiGatewayV2::Authorizer', 'Jwt');
    expect([...byKey.keys()].sort()).toEqual([...OPEN_ROUTES, ...USER_ROUTES, ...OPERATOR_ROUTES, '$default'].sort());
    for (const key of OPEN_ROUTES) {
      expect(byKey.get(key)?.AuthorizationType, key).toBe('NONE');
      expect(byKey.get(key)?.AuthorizerId, key).toBeUndefined();
    }
    const guarded: [string, string[] | undefined][] = [
      ...USER_ROUTES.map((k): [string, string[]] => [k, ['blipline/images', 'blipline/operator']]),
      ['GET /v1/objects', ['blipline/operator']],
      ['$default', undefined],
    ];
    for (const [key, scopes] of guarded) {
      expect(byKey.get(key), key).toMatchObject({ AuthorizationType: 'JWT', AuthorizerId: { Ref: authorizer } });
      expect(byKey.get(key)?.AuthorizationScopes, key).toEqual(scopes);
    }
    // CORS preflights reach the app (which answers them) without a token.
    expect(byKey.get('OPTIONS /{proxy+}')?.AuthorizationType).toBe('NONE');
  });

  it("checks the Cognito pool's issuer and the app clients as audiences", () => {
    const pool = logicalIdOf(byDefault.json, 'AWS::Cognito::UserPool', 'IdentityUserPool');
    const clientIds = ['WebClient', 'MachineClientoperator'].map((f) => ({ Ref: logicalIdOf(byDefault.json, 'AWS::Cognito::UserPoolClient', f) }));
    byDefault.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: {
        Issuer: { 'Fn::Join': ['', ['https://cognito-idp.us-east-1.', { Ref: 'AWS::URLSuffix' }, '/', { Ref: pool }]] },
        Audience: clientIds,
      },
    });
  });

  it('checks an existing OIDC issuer and its audiences', () => {
    oidc.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      JwtConfiguration: { Issuer: 'https://login.example.com/realms/photos', Audience: ['blipline-api'] },
    });
    oidc.template.resourceCountIs('AWS::Cognito::UserPool', 0);
  });

  it('tells the API what to trust (Cognito)', () => {
    const env = functionEnvironment(byDefault.json, 'ApiHandler');
    const web = logicalIdOf(byDefault.json, 'AWS::Cognito::UserPoolClient', 'WebClient');
    const operator = logicalIdOf(byDefault.json, 'AWS::Cognito::UserPoolClient', 'MachineClientoperator');
    expect(env).toMatchObject({
      BLIPLINE_AUTH: 'oidc',
      BLIPLINE_OIDC_CLIENT_ID: { Ref: web },
      BLIPLINE_OIDC_AUDIENCE: { 'Fn::Join': ['', [{ Ref: web }, ',', { Ref: operator }]] },
      BLIPLINE_USER_SCOPE: 'blipline/images',
      BLIPLINE_OPERATOR_SCOPE: 'blipline/operator',
      BLIPLINE_QUOTA_UPLOADS_PER_DAY: '100',
      BLIPLINE_QUOTA_UPLOAD_BYTES_PER_DAY: '524288000',
      BLIPLINE_QUOTA_QUESTIONS_PER_IMAGE: '20',
      BLIPLINE_QUOTA_QUESTIONS_PER_MINUTE: '10',
      BLIPLINE_UPLOAD_EXPIRES_SECONDS: '60',
    });
    expect(JSON.stringify(env.BLIPLINE_OIDC_ISSUER)).toContain('https://cognito-idp.');
    expect(JSON.stringify(env.BLIPLINE_OIDC_LOGOUT_URL)).toMatch(/\.auth\.us-east-1\.amazoncognito\.com\/logout/);
    expect(env.BLIPLINE_UPLOAD_RATE_PER_MINUTE).toBeUndefined();
  });

  it('tells the API what to trust (OIDC): no logout URL unless given', () => {
    const env = functionEnvironment(oidc.json, 'ApiHandler');
    expect(env).toMatchObject({
      BLIPLINE_AUTH: 'oidc',
      BLIPLINE_OIDC_ISSUER: 'https://login.example.com/realms/photos',
      BLIPLINE_OIDC_AUDIENCE: 'blipline-api',
      BLIPLINE_OIDC_CLIENT_ID: 'photos-page',
    });
    expect(env.BLIPLINE_OIDC_LOGOUT_URL).toBeUndefined();
  });
});

describe('identity: the Cognito user pool', () => {
  it('closed sign-up, required TOTP MFA, a strong password policy, deletion protection', () => {
    byDefault.template.hasResourceProperties('AWS::Cognito::UserPool', {
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      MfaConfiguration: 'ON',
      EnabledMfas: ['SOFTWARE_TOKEN_MFA'],
      Policies: { PasswordPolicy: Match.objectLike({ MinimumLength: 12, RequireLowercase: true, RequireUppercase: true, RequireNumbers: true, RequireSymbols: true }) },
      DeletionProtection: 'ACTIVE',
    });
  });

  it('has a hosted sign-in domain unique per deployment and the resource server blipline with images and operator', () => {
    byDefault.template.hasResourceProperties('AWS::Cognito::UserPoolDomain', {
      Domain: { 'Fn::Join': ['-', ['blipline', Match.objectLike({ 'Fn::Select': [0, Match.anyValue()] })]] },
    });
    byDefault.template.hasResourceProperties('AWS::Cognito::UserPoolResourceServer', {
      Identifier: 'blipline',
      Scopes: [
        { ScopeName: 'images', ScopeDescription: Match.anyValue() },
        { ScopeName: 'operator', ScopeDescription: Match.anyValue() },
      ],
    });
  });

  it("the page's client: public, authorization code only, callback and sign-out = the page", () => {
    const distribution = logicalIdOf(byDefault.json, 'AWS::CloudFront::Distribution', 'EdgeDistribution');
    const page = { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distribution, 'DomainName'] }, '/']] };
    byDefault.template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      ClientName: 'web',
      GenerateSecret: false,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthScopes: ['openid', 'email', 'profile', { 'Fn::Join': ['', [{ Ref: Match.anyValue() }, '/images']] }],
      CallbackURLs: [page],
      LogoutURLs: [page],
      PreventUserExistenceErrors: 'ENABLED',
    });
  });

  it('the operator machine client: a secret, client credentials, scope blipline/operator only', () => {
    byDefault.template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      ClientName: 'operator',
      GenerateSecret: true,
      AllowedOAuthFlows: ['client_credentials'],
      AllowedOAuthScopes: [{ 'Fn::Join': ['', [{ Ref: Match.anyValue() }, '/operator']] }],
    });
    expect(Object.keys(byDefault.json.Outputs as object).some((k) => k.includes('MachineClientIdoperator'))).toBe(true);
  });

  it('more machine clients with their scopes, by prop', () => {
    const s = synthBlipline({ bundling: false, props: { auth: { mode: 'cognito', machineClients: [{ name: 'ci', scopes: ['images', 'operator'] }], selfSignUp: true, mfa: 'optional' } } });
    try {
      s.template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
        ClientName: 'ci',
        GenerateSecret: true,
        AllowedOAuthFlows: ['client_credentials'],
        AllowedOAuthScopes: [Match.objectLike({ 'Fn::Join': ['', [Match.anyValue(), '/images']] }), Match.objectLike({ 'Fn::Join': ['', [Match.anyValue(), '/operator']] })],
      });
      s.template.hasResourceProperties('AWS::Cognito::UserPool', { AdminCreateUserConfig: { AllowAdminCreateUserOnly: false }, MfaConfiguration: 'OPTIONAL' });
      s.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', { JwtConfiguration: Match.objectLike({ Audience: Match.arrayWith([{ Ref: logicalIdOf(s.json, 'AWS::Cognito::UserPoolClient', 'MachineClientci') }]) }) });
    } finally {
      rmSync(s.outdir, { recursive: true, force: true });
    }
  });
});

describe('anonymous mode', () => {
  it('is refused at synthesis without allowAnonymous, saying what to change', () => {
    const app = new App({ context: { ...cdkContext(), 'aws:cdk:bundling-stacks': [] } });
    let error: unknown;
    try {
      buildApp(app, { env: { region: 'us-east-1' }, auth: { mode: 'anonymous' } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StackConfigError);
    expect((error as Error).message).toMatch(/also set allowAnonymous: true/);
  });

  it('with allowAnonymous: no authorizer on any route, no user pool, BLIPLINE_AUTH=anonymous', () => {
    const all = [...routes(anonymous).values()];
    expect(all.length).toBe(OPEN_ROUTES.length + USER_ROUTES.length + OPERATOR_ROUTES.length + 1);
    for (const route of all) expect(route.AuthorizationType, String(route.RouteKey)).toBe('NONE');
    anonymous.template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 0);
    anonymous.template.resourceCountIs('AWS::Cognito::UserPool', 0);
    // No tokens to check, so no issuer keys to fetch: the function stays in the isolated subnets.
    anonymous.template.resourceCountIs('AWS::EC2::NatGateway', 0);
    anonymous.template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    const env = functionEnvironment(anonymous.json, 'ApiHandler');
    expect(env.BLIPLINE_AUTH).toBe('anonymous');
    expect(env.BLIPLINE_OIDC_ISSUER).toBeUndefined();
  });
});

describe('edge: CloudFront + WAF', () => {
  const webAclOf = (s: Synthesized) => resourcesOf(s.json, 'AWS::WAFv2::WebACL');

  it('puts the web ACL (rate limit per IP, AWS managed rule sets) in the stack when it is in us-east-1', () => {
    const acls = webAclOf(byDefault);
    expect(acls).toHaveLength(1);
    const [id, acl] = acls[0] ?? [];
    expect(acl?.Properties).toMatchObject({
      Scope: 'CLOUDFRONT',
      DefaultAction: { Allow: {} },
      Rules: [
        { Name: 'RateLimitPerIp', Priority: 0, Action: { Block: {} }, Statement: { RateBasedStatement: { Limit: 2000, AggregateKeyType: 'IP', EvaluationWindowSec: 300 } } },
        { Name: 'AWSManagedRulesCommonRuleSet', Priority: 1, OverrideAction: { None: {} }, Statement: { ManagedRuleGroupStatement: { VendorName: 'AWS', Name: 'AWSManagedRulesCommonRuleSet' } } },
        { Name: 'AWSManagedRulesKnownBadInputsRuleSet', Priority: 2, OverrideAction: { None: {} } },
      ],
    });
    byDefault.template.hasResourceProperties('AWS::CloudFront::Distribution', { DistributionConfig: Match.objectLike({ WebACLId: arn(id ?? '') }) });
  });

  it('from another region, makes the web ACL in a us-east-1 companion stack and reads it across regions', () => {
    expect(webAclOf(oidc)).toHaveLength(0);
    const companion = oidc.assembly.getStackByName('Blipline-Edge');
    expect(companion.environment.region).toBe('us-east-1');
    const template = Template.fromJSON(companion.template as Record<string, unknown>);
    template.hasResourceProperties('AWS::WAFv2::WebACL', { Scope: 'CLOUDFRONT' });
    const main = oidc.assembly.getStackByName('Blipline');
    expect(main.dependencies.map((d) => d.id)).toContain('Blipline-Edge');
    oidc.template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({ WebACLId: { 'Fn::GetStackOutput': Match.objectLike({ StackName: 'Blipline-Edge', Region: 'us-east-1' }) } }),
    });
  });

  it('uses a given web ACL instead of making one', () => {
    const given = 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/shared/0123-abcd';
    const s = synthBlipline({ bundling: false, props: { env: { region: 'eu-central-1' }, edge: { webAclArn: given, rateLimitPer5Minutes: 500 } } });
    try {
      expect(webAclOf(s)).toHaveLength(0);
      expect(s.assembly.stacks.map((st) => st.stackName)).toEqual(['Blipline']);
      s.template.hasResourceProperties('AWS::CloudFront::Distribution', { DistributionConfig: Match.objectLike({ WebACLId: given }) });
    } finally {
      rmSync(s.outdir, { recursive: true, force: true });
    }
  });

  it('refuses an edge without a region to put its web ACL in, saying what to change', () => {
    const app = new App({ context: { ...cdkContext(), 'aws:cdk:bundling-stacks': [] } });
    expect(() => buildApp(app, {})).toThrow(/must be made in us-east-1 and this stack has no region; give the stack env: \{ region \}.*or pass edge.webAclArn, or turn the edge off/);
  });

  it('serves the page and the API: no caching and only the headers the app reads for the API, cached assets, HTTPS only', () => {
    const [, distribution] = resourcesOf(byDefault.json, 'AWS::CloudFront::Distribution')[0] ?? [];
    const config = distribution?.Properties?.DistributionConfig as Record<string, unknown>;
    const api = logicalIdOf(byDefault.json, 'AWS::ApiGatewayV2::Api', 'HttpApi');
    const origins = config.Origins as Record<string, unknown>[];
    expect(origins).toHaveLength(1);
    expect(origins[0]).toMatchObject({
      DomainName: { 'Fn::Join': ['', [{ Ref: api }, '.execute-api.us-east-1.', { Ref: 'AWS::URLSuffix' }]] },
      CustomOriginConfig: { OriginProtocolPolicy: 'https-only', OriginSSLProtocols: ['TLSv1.2'] },
      OriginCustomHeaders: [{ HeaderName: 'x-origin-verify', HeaderValue: dynamicReference(logicalIdOf(byDefault.json, 'AWS::SecretsManager::Secret', 'SecretsOriginVerify')) }],
    });
    const apiCachePolicy = logicalIdOf(byDefault.json, 'AWS::CloudFront::CachePolicy', 'ApiCachePolicy');
    expect(config.DefaultCacheBehavior).toMatchObject({
      ViewerProtocolPolicy: 'redirect-to-https',
      AllowedMethods: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE'],
      CachePolicyId: { Ref: apiCachePolicy },
      OriginRequestPolicyId: { Ref: logicalIdOf(byDefault.json, 'AWS::CloudFront::OriginRequestPolicy', 'ApiRequestPolicy') },
    });
    byDefault.template.hasResourceProperties('AWS::CloudFront::OriginRequestPolicy', {
      OriginRequestPolicyConfig: Match.objectLike({
        // Never Host (API Gateway answers only to its own) and never Authorization (the cache policy carries it).
        HeadersConfig: { HeaderBehavior: 'whitelist', Headers: [...FORWARDED_HEADERS] },
        QueryStringsConfig: { QueryStringBehavior: 'all' },
        CookiesConfig: { CookieBehavior: 'none' },
      }),
    });
    expect(FORWARDED_HEADERS).toContain('CloudFront-Viewer-Address');
    expect(FORWARDED_HEADERS.length).toBeLessThanOrEqual(10);
    byDefault.template.hasResourceProperties('AWS::CloudFront::CachePolicy', {
      CachePolicyConfig: Match.objectLike({
        DefaultTTL: 0,
        MinTTL: 0,
        ParametersInCacheKeyAndForwardedToOrigin: Match.objectLike({ HeadersConfig: { HeaderBehavior: 'whitelist', Headers: ['Authorization'] } }),
      }),
    });
    // The page's hashed files: AWS's managed CachingOptimized policy.
    expect(config.CacheBehaviors).toEqual([expect.objectContaining({ PathPattern: '/assets/*', CachePolicyId: '658327ea-f89d-4fab-a63d-7e88639e58f6', ViewerProtocolPolicy: 'redirect-to-https' })]);
    expect(config.Logging).toMatchObject({ Prefix: 'cloudfront/' });
  });

  it('sends the security headers: CSP with frame-ancestors none, HSTS, nosniff, Referrer-Policy, DENY framing', () => {
    const [, policy] = resourcesOf(byDefault.json, 'AWS::CloudFront::ResponseHeadersPolicy')[0] ?? [];
    const security = (policy?.Properties?.ResponseHeadersPolicyConfig as { SecurityHeadersConfig: Record<string, Record<string, unknown>> }).SecurityHeadersConfig;
    expect(security.ContentTypeOptions).toEqual({ Override: true });
    expect(security.FrameOptions).toEqual({ FrameOption: 'DENY', Override: true });
    expect(security.ReferrerPolicy).toEqual({ ReferrerPolicy: 'no-referrer', Override: true });
    expect(security.StrictTransportSecurity).toEqual({ AccessControlMaxAgeSec: 63_072_000, IncludeSubdomains: true, Override: true });
    const csp = JSON.stringify(security.ContentSecurityPolicy?.ContentSecurityPolicy);
    for (const directive of ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "img-src 'self' blob: data:", "connect-src 'self' https://*.s3.us-east-1."]) {
      expect(csp, directive).toContain(directive);
    }
    expect(csp).toContain('.auth.us-east-1.amazoncognito.com');
    const [, distribution] = resourcesOf(byDefault.json, 'AWS::CloudFront::Distribution')[0] ?? [];
    const config = distribution?.Properties?.DistributionConfig as { DefaultCacheBehavior: Record<string, unknown>; CacheBehaviors: Record<string, unknown>[] };
    const policyRef = { Ref: logicalIdOf(byDefault.json, 'AWS::CloudFront::ResponseHeadersPolicy', 'SecurityHeaders') };
    expect(config.DefaultCacheBehavior.ResponseHeadersPolicyId).toEqual(policyRef);
    expect(config.CacheBehaviors[0]?.ResponseHeadersPolicyId).toEqual(policyRef);
  });

  it('lets only CloudFront through to the API: the secret header by dynamic reference, never a literal', () => {
    const secret = logicalIdOf(byDefault.json, 'AWS::SecretsManager::Secret', 'SecretsOriginVerify');
    byDefault.template.hasResourceProperties('AWS::SecretsManager::Secret', { GenerateSecretString: Match.objectLike({ PasswordLength: 48, ExcludePunctuation: true }) });
    expect(functionEnvironment(byDefault.json, 'ApiHandler').BLIPLINE_ORIGIN_VERIFY_SECRET).toEqual(dynamicReference(secret));
    expect(JSON.stringify(byDefault.json)).not.toMatch(/"SecretString"\s*:/);
    byDefault.template.hasResourceProperties('AWS::ApiGatewayV2::Api', { DisableExecuteApiEndpoint: false });
  });

  it('with an API custom domain: the execute-api endpoint is off and CloudFront uses the domain', () => {
    oidc.template.hasResourceProperties('AWS::ApiGatewayV2::Api', { DisableExecuteApiEndpoint: true });
    oidc.template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainName: 'api.photos.example.com',
      DomainNameConfigurations: [Match.objectLike({ CertificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc-123', SecurityPolicy: 'TLS_1_2' })],
    });
    oidc.template.hasResourceProperties('AWS::ApiGatewayV2::ApiMapping', { DomainName: Match.anyValue(), Stage: Match.anyValue() });
    oidc.template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({ Origins: [Match.objectLike({ DomainName: { Ref: logicalIdOf(oidc.json, 'AWS::ApiGatewayV2::DomainName', 'ApiDomain') } })] }),
    });
    expect(Object.keys(oidc.json.Outputs as object).some((k) => k.includes('DomainTarget'))).toBe(true);
  });

  it('can be turned off: no distribution, no origin header, the page is the API stage', () => {
    anonymous.template.resourceCountIs('AWS::CloudFront::Distribution', 0);
    anonymous.template.resourceCountIs('AWS::WAFv2::WebACL', 0);
    const env = functionEnvironment(anonymous.json, 'ApiHandler');
    expect(env.BLIPLINE_ORIGIN_VERIFY_SECRET).toBeUndefined();
    expect(JSON.stringify(env.BLIPLINE_ALLOWED_ORIGINS)).toContain('.execute-api.us-east-1.');
    expect(resourcesOf(anonymous.json, 'AWS::SecretsManager::Secret').map(([id]) => id).some((id) => id.includes('OriginVerify'))).toBe(false);
  });
});

describe('questions: their own queue', () => {
  it('has a dead-letter queue, TLS only and SSE-SQS like the job queue', () => {
    const queue = logicalIdOf(byDefault.json, 'AWS::SQS::Queue', 'StorageQuestions');
    const dlq = logicalIdOf(byDefault.json, 'AWS::SQS::Queue', 'StorageQuestionsDeadLetterQueue');
    expect(resources(byDefault)[queue]?.Properties).toMatchObject({
      SqsManagedSseEnabled: true,
      ReceiveMessageWaitTimeSeconds: 20,
      RedrivePolicy: { deadLetterTargetArn: arn(dlq), maxReceiveCount: 5 },
    });
    const policies = resourcesOf(byDefault.json, 'AWS::SQS::QueuePolicy').filter(([, r]) => JSON.stringify(r.Properties?.Queues) === JSON.stringify([{ Ref: queue }]));
    expect(policies).toHaveLength(1);
    const statements = statementsOf(policies[0]?.[1]);
    expect(statements.some((st) => st.Effect === 'Deny' && JSON.stringify(st).includes('aws:SecureTransport'))).toBe(true);
    expect(statements.filter((st) => st.Effect === 'Allow')).toEqual([]);
  });

  it('reaches the API (send only) and the worker (receive)', () => {
    const queue = logicalIdOf(byDefault.json, 'AWS::SQS::Queue', 'StorageQuestions');
    expect(functionEnvironment(byDefault.json, 'ApiHandler').BLIPLINE_QUESTION_QUEUE_URL).toEqual({ Ref: queue });
    expect(workerContainer(byDefault.json).env.BLIPLINE_QUESTION_QUEUE_URL).toEqual({ Ref: queue });
    const sendsTo = resourcesOf(byDefault.json, 'AWS::IAM::Policy').flatMap(([id, p]) =>
      statementsOf(p)
        .filter((st) => JSON.stringify(st.Action).includes('sqs:SendMessage') && JSON.stringify(st.Resource).includes(queue))
        .map((st) => [id.replace(/[0-9A-F]{8}$/, ''), st.Resource]),
    );
    // Only the API sends questions (the worker sends to the webhook delivery queue, not to this one).
    expect(sendsTo).toEqual([['ApiHandlerServiceRoleDefaultPolicy', arn(queue)]]);
  });
});

describe('VPC endpoint policies: only the stack resources', () => {
  const endpoint = (service: string): Resource => {
    const found = resourcesOf(byDefault.json, 'AWS::EC2::VPCEndpoint').filter(([, r]) => JSON.stringify(r.Properties?.ServiceName).includes(service));
    expect(found, service).toHaveLength(1);
    return found[0]?.[1] as Resource;
  };
  const bucket = () => logicalIdOf(byDefault.json, 'AWS::S3::Bucket', 'StorageImages');

  it('gives every endpoint a policy, with no * resource except ECR authorization tokens', () => {
    const all = resourcesOf(byDefault.json, 'AWS::EC2::VPCEndpoint');
    expect(all).toHaveLength(7);
    for (const [id, r] of all) {
      const statements = statementsOf({ ...r, Properties: { PolicyDocument: r.Properties?.PolicyDocument } });
      expect(statements.length, id).toBeGreaterThan(0);
      for (const st of statements) {
        expect(st.Effect, id).toBe('Allow');
        if (st.Resource === '*') expect(st.Action, id).toBe('ecr:GetAuthorizationToken');
      }
    }
  });

  it('S3: the bucket, and the ECR layer bucket image pulls need', () => {
    const s3 = endpoint('.s3');
    expect(statementsOf({ ...s3, Properties: { PolicyDocument: s3.Properties?.PolicyDocument } })).toEqual([
      { Effect: 'Allow', Principal: { AWS: '*' }, Action: ['s3:DeleteObject', 's3:GetObject'], Resource: { 'Fn::Join': ['', [arn(bucket()), '/*']] } },
      { Effect: 'Allow', Principal: { AWS: '*' }, Action: 's3:ListBucket', Resource: arn(bucket()) },
      {
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: 's3:GetObject',
        Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::prod-', { Ref: 'AWS::Region' }, '-starport-layer-bucket/*']] },
      },
    ]);
  });

  it('DynamoDB: the table; SQS: the two queues; Secrets Manager: the runtime secrets', () => {
    const policyOf = (service: string) => {
      const r = endpoint(service);
      return statementsOf({ ...r, Properties: { PolicyDocument: r.Properties?.PolicyDocument } });
    };
    expect(policyOf('.dynamodb').map((st) => st.Resource)).toEqual([arn(logicalIdOf(byDefault.json, 'AWS::DynamoDB::GlobalTable', 'StorageRecords'))]);
    expect(policyOf('.sqs').map((st) => st.Resource)).toEqual([[arn(logicalIdOf(byDefault.json, 'AWS::SQS::Queue', 'StorageJobs')), arn(logicalIdOf(byDefault.json, 'AWS::SQS::Queue', 'StorageQuestions'))]]);
    const secrets = policyOf('.secretsmanager');
    expect(secrets).toHaveLength(1);
    expect(secrets[0]).toMatchObject({ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'secretsmanager:GetSecretValue' });
    expect(secrets[0]?.Resource).toEqual(
      expect.arrayContaining(['SecretsRedisPassword', 'SecretsObjectIdSecret'].map((f) => ({ Ref: logicalIdOf(byDefault.json, 'AWS::SecretsManager::Secret', f) }))),
    );
    expect(secrets[0]?.Resource).toHaveLength(2);
    expect(JSON.stringify(policyOf('.ecr.dkr'))).toContain('container-assets');
    expect(JSON.stringify(policyOf('.logs'))).toContain(logicalIdOf(byDefault.json, 'AWS::Logs::LogGroup', 'WorkerLogs'));
  });
});

describe('Valkey with authentication', () => {
  it('an RBAC user (password from Secrets Manager by dynamic reference) in a user group bound to the cache', () => {
    const secret = logicalIdOf(byDefault.json, 'AWS::SecretsManager::Secret', 'SecretsRedisPassword');
    const user = logicalIdOf(byDefault.json, 'AWS::ElastiCache::User', 'CacheUser');
    const group = logicalIdOf(byDefault.json, 'AWS::ElastiCache::UserGroup', 'CacheUserGroup');
    expect(resources(byDefault)[user]?.Properties).toMatchObject({
      Engine: 'valkey',
      UserName: 'blipline',
      AccessString: CACHE_ACCESS_STRING,
      AuthenticationMode: { Type: 'password', Passwords: [dynamicReference(secret)] },
    });
    expect(CACHE_ACCESS_STRING).toBe('on ~blipline:* +@all -@dangerous');
    const userId = resources(byDefault)[user]?.Properties?.UserId;
    expect(resources(byDefault)[group]?.Properties).toMatchObject({ Engine: 'valkey', UserIds: [userId] });
    byDefault.template.hasResourceProperties('AWS::ElastiCache::ServerlessCache', { UserGroupId: resources(byDefault)[group]?.Properties?.UserGroupId });
  });

  it('the worker gets the password as an ECS secret; the API reads it by ARN at cold start', () => {
    const secret = logicalIdOf(byDefault.json, 'AWS::SecretsManager::Secret', 'SecretsRedisPassword');
    const { env, secrets } = workerContainer(byDefault.json);
    expect(env).toMatchObject({ BLIPLINE_REDIS_USERNAME: 'blipline', BLIPLINE_REDIS_PREFIX: 'blipline:' });
    expect(env.BLIPLINE_REDIS_PASSWORD).toBeUndefined();
    expect(secrets.BLIPLINE_REDIS_PASSWORD).toEqual({ Ref: secret });
    const api = functionEnvironment(byDefault.json, 'ApiHandler');
    expect(api).toMatchObject({ BLIPLINE_REDIS_USERNAME: 'blipline', BLIPLINE_REDIS_PREFIX: 'blipline:', BLIPLINE_REDIS_PASSWORD_SECRET_ARN: { Ref: secret } });
    expect(api.BLIPLINE_REDIS_PASSWORD).toBeUndefined();
  });
});

describe('secrets', () => {
  it("the worker's object-id HMAC key: a generated secret, kept on stack deletion, given as an ECS secret", () => {
    const id = logicalIdOf(byDefault.json, 'AWS::SecretsManager::Secret', 'SecretsObjectIdSecret');
    const secret = resources(byDefault)[id] as Resource & { DeletionPolicy?: string };
    expect(secret.Properties?.GenerateSecretString).toMatchObject({ PasswordLength: 64, ExcludePunctuation: true });
    expect(secret.DeletionPolicy).toBe('Retain');
    expect(workerContainer(byDefault.json).secrets.BLIPLINE_OBJECT_ID_SECRET).toEqual({ Ref: id });
    // Only the worker's execution role (Fargate fetches ECS secrets at task start) may read it.
    const readers = resourcesOf(byDefault.json, 'AWS::IAM::Policy').filter(([, p]) => JSON.stringify(p.Properties?.PolicyDocument).includes(`"Ref":"${id}"`));
    expect(readers.map(([rid]) => rid.replace(/[0-9A-F]{8}$/, ''))).toEqual(['WorkerTaskExecutionRoleDefaultPolicy']);
  });
});

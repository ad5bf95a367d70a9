import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { ResolvedEdge } from '../security-config.js';

/** The header CloudFront adds to every origin request; the API refuses requests without it. */
export const ORIGIN_VERIFY_HEADER = 'x-origin-verify';

/**
 * Viewer headers the API receives through CloudFront (Authorization travels through the cache
 * policy, which is the only way CloudFront forwards it): the body type, CORS preflight headers,
 * content negotiation, the client's own request id, and CloudFront-Viewer-Address (the caller's IP
 * and port, which the app uses for per-IP quotas in anonymous mode; the execute-api source IP is
 * CloudFront's). Host is not forwarded: API Gateway needs its own. A header the app starts to read
 * must be added here (CloudFront allows 10 by default).
 */
export const FORWARDED_HEADERS = [
  'Content-Type',
  'Accept',
  'Origin',
  'Access-Control-Request-Method',
  'Access-Control-Request-Headers',
  'User-Agent',
  'X-Request-Id',
  'CloudFront-Viewer-Address',
] as const;

export interface EdgeProps {
  readonly edge: ResolvedEdge;
  /** Domain name of the API origin (execute-api host, or the API's custom domain). */
  readonly apiOriginDomain: string;
  /** Value of x-origin-verify (a Secrets Manager secret, passed by dynamic reference). */
  readonly originVerify: secretsmanager.ISecret;
  /** ARN of the CloudFront web ACL (scope CLOUDFRONT, us-east-1). */
  readonly webAclArn: string;
  /** Origins the page connects to besides itself (identity provider). */
  readonly connectOrigins: string[];
  /** Server access logs of CloudFront's own log bucket go here. */
  readonly accessLogBucket: s3.IBucket;
  /** Days CloudFront's logs are kept. */
  readonly logDays: number;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The page's Content-Security-Policy: scripts, styles and fonts only from the page itself, no
 * frames, no plugins; images also from blob: (previews of the chosen files) and data: (the icon);
 * connections to the API (same origin), S3 (presigned uploads) and the identity provider.
 * The S3 source names the region's endpoint with a wildcard for the bucket: naming the bucket
 * would make the distribution depend on the bucket whose CORS rule depends on the distribution.
 */
export function pageContentSecurityPolicy(region: string, urlSuffix: string, connectOrigins: string[]): string {
  const connect = ["'self'", `https://*.s3.${region}.${urlSuffix}`, ...connectOrigins].join(' ');
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob: data:",
    "font-src 'self'",
    `connect-src ${connect}`,
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    'upgrade-insecure-requests',
  ].join('; ');
}

/**
 * CloudFront in front of the page and the API, guarded by the WAF web ACL.
 *
 * - API routes: no caching (the cache policy keys on Authorization only so that CloudFront forwards
 *   it; answers say no-store), the FORWARDED_HEADERS and every query string, all methods.
 * - /assets/*: the page's hashed files, cached.
 * - Every answer gets the security headers policy (CSP with frame-ancestors 'none', HSTS,
 *   nosniff, Referrer-Policy no-referrer, X-Frame-Options DENY).
 * - Each origin request carries x-origin-verify; the API refuses direct calls without it.
 */
export class Edge extends Construct {
  readonly distribution: cloudfront.Distribution;
  readonly responseHeadersPolicy: cloudfront.ResponseHeadersPolicy;
  readonly logBucket: s3.Bucket;
  /** `https://<distribution or custom domain>` */
  readonly origin: string;

  constructor(scope: Construct, id: string, props: EdgeProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const csp = props.edge.contentSecurityPolicy ?? pageContentSecurityPolicy(stack.region, stack.urlSuffix, props.connectOrigins);

    this.responseHeadersPolicy = new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: 'blipline: CSP, HSTS, nosniff, no referrer, no framing',
      securityHeadersBehavior: {
        contentSecurityPolicy: { contentSecurityPolicy: csp, override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
        contentTypeOptions: { override: true },
        strictTransportSecurity: { accessControlMaxAge: Duration.days(730), includeSubdomains: true, override: true },
      },
    });

    const apiOrigin = new origins.HttpOrigin(props.apiOriginDomain, {
      protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
      originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
      customHeaders: { [ORIGIN_VERIFY_HEADER]: props.originVerify.secretValue.unsafeUnwrap() },
    });

    const apiCachePolicy = new cloudfront.CachePolicy(this, 'ApiCachePolicy', {
      comment: 'blipline API: nothing cached (origin says no-store); Authorization in the key so it is forwarded',
      minTtl: Duration.seconds(0),
      defaultTtl: Duration.seconds(0),
      maxTtl: Duration.seconds(1),
      headerBehavior: cloudfront.CacheHeaderBehavior.allowList('Authorization'),
      queryStringBehavior: cloudfront.CacheQueryStringBehavior.all(),
      cookieBehavior: cloudfront.CacheCookieBehavior.none(),
    });

    // CloudFront's standard logs are delivered with ACLs: this bucket alone has them enabled.
    this.logBucket = new s3.Bucket(this, 'Logs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.OBJECT_WRITER,
      serverAccessLogsBucket: props.accessLogBucket,
      serverAccessLogsPrefix: 'cloudfront-logs/',
      lifecycleRules: [{ id: 'expire-cloudfront-logs', expiration: Duration.days(props.logDays) }],
      removalPolicy: props.removalPolicy,
    });

    const apiRequestPolicy = new cloudfront.OriginRequestPolicy(this, 'ApiRequestPolicy', {
      comment: 'blipline API: the headers the app reads, the viewer address, all query strings; no cookies',
      headerBehavior: cloudfront.OriginRequestHeaderBehavior.allowList(...FORWARDED_HEADERS),
      queryStringBehavior: cloudfront.OriginRequestQueryStringBehavior.all(),
      cookieBehavior: cloudfront.OriginRequestCookieBehavior.none(),
    });

    const domain = props.edge.domain;
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'blipline: page and API',
      webAclId: props.webAclArn,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      ...(domain === undefined
        ? {}
        : {
            domainNames: [domain.domainName],
            certificate: acm.Certificate.fromCertificateArn(this, 'Certificate', domain.certificateArn),
            minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
          }),
      enableLogging: true,
      logBucket: this.logBucket,
      logFilePrefix: 'cloudfront/',
      defaultBehavior: {
        origin: apiOrigin,
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
        cachePolicy: apiCachePolicy,
        originRequestPolicy: apiRequestPolicy,
        responseHeadersPolicy: this.responseHeadersPolicy,
        compress: true,
      },
      additionalBehaviors: {
        '/assets/*': {
          origin: apiOrigin,
          viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
          allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
          cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
          responseHeadersPolicy: this.responseHeadersPolicy,
          compress: true,
        },
      },
    });
    this.origin = `https://${domain?.domainName ?? this.distribution.distributionDomainName}`;
  }
}

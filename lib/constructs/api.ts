import { existsSync } from 'node:fs';
import path from 'node:path';
import { Annotations, CfnOutput, Duration } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { UPLOAD_PREFIX } from '../../services/core/keys.js';
import { StackConfigError } from '../errors.js';
import { REPO_ROOT } from '../paths.js';
import { TABLE_ITEM_ACTIONS } from './grants.js';
import { httpApiAccessLogFormat } from './log-formats.js';
import type { TrustedIssuer } from './identity.js';
import { cacheEnvironment, type ServiceWiring } from './wiring.js';

export type ApiProps = ServiceWiring;

/** Routes anyone may call: health, the page's sign-in settings, the API description and its reference page, the page, CORS preflights. */
export const OPEN_ROUTES = [
  'GET /healthz',
  'GET /v1/config',
  'GET /v1/openapi.json',
  'GET /',
  'GET /index.html',
  'GET /reference.html',
  'GET /assets/{proxy+}',
  'GET /favicon.ico',
  'OPTIONS /{proxy+}',
] as const;
/** Routes of a signed-in owner (user scope) or the operator. */
export const USER_ROUTES = [
  'POST /v1/uploads',
  'GET /v1/images/{imageId}',
  'DELETE /v1/images/{imageId}',
  'POST /v1/images/{imageId}/questions',
  'GET /v1/images/{imageId}/questions/{questionId}',
] as const;
/** Routes of the operator only. */
export const OPERATOR_ROUTES = ['GET /v1/objects'] as const;

/** What the API trusts, for the JWT authorizer and the runtime (absent: anonymous mode). */
export interface ApiAccess extends TrustedIssuer {
  readonly userScope: string;
  readonly operatorScope: string;
}

/** Where the built upload page sits inside the Lambda bundle. */
export const LAMBDA_WEB_DIR = '/var/task/web';

/**
 * The Hono API on Lambda (Node 22, arm64, bundled locally by esbuild) behind an API Gateway HTTP API.
 *
 * Why an HTTP API and not a Function URL: the HTTP API gives stage-wide throttling (rate and burst)
 * without reserving Lambda concurrency, CORS answered by API Gateway (preflights never reach the
 * function), access logs, and a stable place for a custom domain; it costs $1 per million requests,
 * which at this project's volumes is cents.
 */
export class Api extends Construct {
  readonly handler: nodejs.NodejsFunction;
  readonly httpApi: apigw.HttpApi;
  readonly stage: apigw.HttpStage;
  readonly integration: HttpLambdaIntegration;
  /** The JWT authorizer (set by addRoutes; none in anonymous mode). */
  authorizer: HttpJwtAuthorizer | undefined = undefined;
  readonly routes: apigw.HttpRoute[] = [];
  /** The custom domain (when apiDomain is set). */
  readonly domainName: apigw.DomainName | undefined;
  /** Host name CloudFront reaches the API at: the custom domain, else the execute-api host. */
  readonly originDomain: string;
  /** Base URL of the API itself (custom domain, else the stage URL). */
  readonly url: string;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    const { config } = props;
    const entry = config.apiEntry ?? path.join(REPO_ROOT, 'services/api/lambda.ts');
    if (!existsSync(entry)) {
      throw new StackConfigError(`apiEntry ${entry} does not exist; point apiEntry at the TypeScript file exporting the Lambda handler`);
    }
    const webDir = config.webDir ?? path.join(REPO_ROOT, 'services/web/dist');
    const hasWeb = existsSync(path.join(webDir, 'index.html'));
    if (!hasWeb) {
      Annotations.of(this).addWarningV2(
        'blipline:web-not-built',
        `${webDir}/index.html is missing: the API will answer GET / with 503 web_not_built. Run 'npm run build:web' before deploying.`,
      );
    }

    const environment: Record<string, string> = {
      BLIPLINE_BUCKET: props.bucket.bucketName,
      BLIPLINE_QUEUE_URL: props.queue.queueUrl,
      BLIPLINE_QUESTION_QUEUE_URL: props.questionQueue.queueUrl,
      BLIPLINE_TABLE: props.table.tableName,
      ...cacheEnvironment(props.cache),
      // Read once at cold start (services/aws/secrets.ts): never in the function's configuration.
      BLIPLINE_REDIS_PASSWORD_SECRET_ARN: props.cache.password.secretArn,
      BLIPLINE_QUOTA_UPLOADS_PER_DAY: String(config.quotas.uploadsPerDay),
      BLIPLINE_QUOTA_UPLOAD_BYTES_PER_DAY: String(config.quotas.uploadBytesPerDay),
      BLIPLINE_QUOTA_QUESTIONS_PER_IMAGE: String(config.quotas.questionsPerImage),
      BLIPLINE_QUOTA_QUESTIONS_PER_MINUTE: String(config.quotas.questionsPerMinute),
      BLIPLINE_MAX_UPLOAD_BYTES: String(config.maxUploadBytes),
      BLIPLINE_UPLOAD_EXPIRES_SECONDS: String(config.uploadExpiresSeconds),
      BLIPLINE_RECORD_TTL_DAYS: String(config.recordTtlDays),
      BLIPLINE_MAX_RECEIVE_COUNT: String(config.maxReceiveCount),
      BLIPLINE_MODEL: config.captionModel,
      BLIPLINE_PRECISION: config.precision,
      BLIPLINE_WEB_DIR: LAMBDA_WEB_DIR,
      LOG_LEVEL: 'info',
    };
    if (config.vqaModel !== '') environment.BLIPLINE_VQA_MODEL = config.vqaModel;

    this.handler = new nodejs.NodejsFunction(this, 'Handler', {
      entry,
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.seconds(10),
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      securityGroups: [props.securityGroup],
      environment,
      logGroup: new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_MONTH }),
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      bundling: {
        forceDockerBundling: false,
        format: nodejs.OutputFormat.ESM,
        target: 'node22',
        minify: true,
        sourceMap: true,
        // Everything is bundled, @aws-sdk included: the function runs the SDK versions the tests ran.
        externalModules: [],
        mainFields: ['module', 'main'],
        banner: "import { createRequire as __blipCreateRequire } from 'node:module'; const require = __blipCreateRequire(import.meta.url);",
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (_inputDir: string, outputDir: string) =>
            hasWeb ? [`mkdir -p "${outputDir}/web"`, `cp -R "${webDir}/." "${outputDir}/web/"`] : [],
        },
      },
    });

    const role = this.handler.role;
    if (role === undefined) throw new StackConfigError('the API function has no execution role');
    // Presigned uploads are signed with this role: it may only write under uploads/.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [props.bucket.arnForObjects(`${UPLOAD_PREFIX}*`)] }),
    );
    // DELETE /v1/images/{id}: an owner's upload, or (operator) a dropped object anywhere in the bucket.
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:DeleteObject'], resources: [props.bucket.arnForObjects('*')] }));
    // Questions only: captioning jobs come from S3 events, never from the API.
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [props.questionQueue.queueArn] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...TABLE_ITEM_ACTIONS], resources: [props.table.tableArn] }));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [props.cache.password.secretArn] }),
    );

    // No API-level CORS: the page is served from the same origin as the API, and the app answers
    // preflights of other allowed origins itself (OPTIONS routes reach the function).
    const apiDomain = config.apiDomain;
    this.domainName =
      apiDomain === undefined
        ? undefined
        : new apigw.DomainName(this, 'Domain', {
            domainName: apiDomain.domainName,
            certificate: acm.Certificate.fromCertificateArn(this, 'Certificate', apiDomain.certificateArn),
            securityPolicy: apigw.SecurityPolicy.TLS_1_2,
          });
    this.httpApi = new apigw.HttpApi(this, 'HttpApi', {
      description: 'blipline API',
      createDefaultStage: false,
      // With a custom domain the execute-api endpoint is off: the API answers only at its domain.
      disableExecuteApiEndpoint: this.domainName !== undefined,
    });
    this.integration = new HttpLambdaIntegration('Lambda', this.handler);
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: logs.RetentionDays.ONE_MONTH });
    this.stage = new apigw.HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: config.apiRateLimit, burstLimit: config.apiBurstLimit },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(accessLogs),
        format: httpApiAccessLogFormat(),
      },
    });
    if (this.domainName !== undefined) {
      new apigw.ApiMapping(this, 'DomainMapping', { api: this.httpApi, domainName: this.domainName, stage: this.stage });
      new CfnOutput(this, 'DomainTarget', {
        value: this.domainName.regionalDomainName,
        description: `Point ${this.domainName.name} here (CNAME, or a Route 53 alias to this regional domain)`,
      });
      this.originDomain = this.domainName.name;
      this.url = `https://${this.domainName.name}/`;
    } else {
      this.originDomain = `${this.httpApi.apiId}.execute-api.${this.httpApi.stack.region}.${this.httpApi.stack.urlSuffix}`;
      this.url = this.stage.url;
    }
  }

  /**
   * The routes: open ones without an authorizer, every other one (and `$default`, so a route the
   * app adds later is never open by accident) behind the JWT authorizer with the scopes it needs.
   * Without `access` (anonymous mode, allowAnonymous) no route has an authorizer.
   */
  addRoutes(access: ApiAccess | undefined): void {
    const authorizer =
      access === undefined
        ? undefined
        : new HttpJwtAuthorizer('Jwt', access.issuer, { jwtAudience: access.audiences, identitySource: ['$request.header.Authorization'] });
    this.authorizer = authorizer;
    const add = (id: string, routeKey: apigw.HttpRouteKey, scopes: string[] | undefined) => {
      this.routes.push(
        new apigw.HttpRoute(this, id, {
          httpApi: this.httpApi,
          routeKey,
          integration: this.integration,
          ...(scopes === undefined || authorizer === undefined ? {} : { authorizer, authorizationScopes: scopes }),
        }),
      );
    };
    const key = (route: string) => {
      const [method = '', path = ''] = route.split(' ');
      return apigw.HttpRouteKey.with(path, method as apigw.HttpMethod);
    };
    const routeId = (route: string) => `Route ${route}`.replace(/[^A-Za-z0-9]+/g, '');
    for (const route of OPEN_ROUTES) add(routeId(route), key(route), undefined);
    const scopes = access === undefined ? [] : [access.userScope, access.operatorScope];
    for (const route of USER_ROUTES) add(routeId(route), key(route), scopes);
    for (const route of OPERATOR_ROUTES) add(routeId(route), key(route), access === undefined ? [] : [access.operatorScope]);
    add('RouteDefault', apigw.HttpRouteKey.DEFAULT, []);

    if (access === undefined) {
      this.handler.addEnvironment('BLIPLINE_AUTH', 'anonymous');
      return;
    }
    this.handler.addEnvironment('BLIPLINE_AUTH', 'oidc');
    this.handler.addEnvironment('BLIPLINE_OIDC_ISSUER', access.issuer);
    this.handler.addEnvironment('BLIPLINE_OIDC_AUDIENCE', access.audiences.join(','));
    this.handler.addEnvironment('BLIPLINE_OIDC_CLIENT_ID', access.webClientId);
    if (access.logoutUrl !== undefined) this.handler.addEnvironment('BLIPLINE_OIDC_LOGOUT_URL', access.logoutUrl);
    this.handler.addEnvironment('BLIPLINE_USER_SCOPE', access.userScope);
    this.handler.addEnvironment('BLIPLINE_OPERATOR_SCOPE', access.operatorScope);
  }
}

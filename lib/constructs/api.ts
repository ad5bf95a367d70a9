import { existsSync } from 'node:fs';
import path from 'node:path';
import { Annotations, Duration } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
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
import type { ServiceWiring } from './wiring.js';

export type ApiProps = ServiceWiring;

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
      BLIPLINE_TABLE: props.table.tableName,
      BLIPLINE_REDIS_URL: props.redisUrl,
      BLIPLINE_ALLOWED_ORIGINS: config.allowedOrigins.join(','),
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
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [props.queue.queueArn] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...TABLE_ITEM_ACTIONS], resources: [props.table.tableArn] }));

    this.httpApi = new apigw.HttpApi(this, 'HttpApi', {
      description: 'blipline API',
      createDefaultStage: false,
      defaultIntegration: new HttpLambdaIntegration('Lambda', this.handler),
      corsPreflight: {
        allowOrigins: config.allowedOrigins,
        allowMethods: [apigw.CorsHttpMethod.GET, apigw.CorsHttpMethod.POST, apigw.CorsHttpMethod.OPTIONS],
        allowHeaders: ['content-type'],
        maxAge: Duration.days(1),
      },
    });
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
    this.url = this.stage.url;
  }
}

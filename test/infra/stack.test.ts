import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKLOG_PER_TASK, TRACKED_BACKLOG_PER_TASK } from '../../lib/constructs/worker.js';
import { resourcesOf, type Synthesized, synthBlipline } from './support.js';

// One synthesis for the whole file (the real app: API bundled by esbuild, cdk-nag checks on).
let s: Synthesized;
beforeAll(() => {
  s = synthBlipline({ bundling: true });
});
afterAll(() => {
  rmSync(s.outdir, { recursive: true, force: true });
});

const logicalId = (type: string, fragment: string): string => {
  const all = resourcesOf(s.json, type);
  // The construct's own resource (fragment + hash) first, then any id containing the fragment.
  const match = all.find(([id]) => new RegExp(`^${fragment}[0-9A-F]{8}$`).test(id)) ?? all.find(([id]) => id.includes(fragment));
  if (!match) throw new Error(`no ${type} whose id contains ${fragment}`);
  return match[0];
};
const arn = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });

interface AssetsManifest {
  files: Record<string, { source: { path: string; packaging?: string } }>;
  dockerImages: Record<string, { source: { directory: string; dockerFile?: string; dockerBuildArgs?: Record<string, string>; platform?: string } }>;
}
const assetsManifest = (): AssetsManifest =>
  JSON.parse(readFileSync(path.join(s.outdir, `${s.stack.stackName}.assets.json`), 'utf8')) as AssetsManifest;

describe('bucket', () => {
  it('blocks public access, encrypts, has no versioning, logs access', () => {
    s.template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      VersioningConfiguration: Match.absent(),
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'images/' }),
    });
  });

  it("allows browser PUT/POST (with If-None-Match) from the stack's own page only, and exposes ETag", () => {
    const distribution = logicalId('AWS::CloudFront::Distribution', 'EdgeDistribution');
    s.template.hasResourceProperties('AWS::S3::Bucket', {
      CorsConfiguration: {
        CorsRules: [
          {
            AllowedMethods: ['PUT', 'POST'],
            AllowedOrigins: [{ 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distribution, 'DomainName'] }]] }],
            AllowedHeaders: ['content-type', 'if-none-match', 'x-amz-*'],
            ExposedHeaders: ['ETag'],
            MaxAge: 3000,
          },
        ],
      },
    });
  });

  it('aborts incomplete multipart uploads and expires API uploads (30 days); dropped objects are kept by default', () => {
    const bucket = logicalId('AWS::S3::Bucket', 'StorageImages');
    const rules = ((s.json.Resources as Record<string, { Properties: { LifecycleConfiguration: { Rules: Record<string, unknown>[] } } }>)[bucket]?.Properties.LifecycleConfiguration.Rules) ?? [];
    expect(rules).toEqual([
      { Id: 'abort-incomplete-multipart-uploads', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' },
      { Id: 'expire-api-uploads', Prefix: 'uploads/', ExpirationInDays: 30, Status: 'Enabled' },
    ]);
  });

  it('sends every ObjectCreated and ObjectRemoved event (all keys) to the job queue', () => {
    const bucket = logicalId('AWS::S3::Bucket', 'StorageImages');
    const queue = logicalId('AWS::SQS::Queue', 'StorageJobs');
    s.template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: { Ref: bucket },
      NotificationConfiguration: {
        QueueConfigurations: [
          { Events: ['s3:ObjectCreated:*'], QueueArn: arn(queue) },
          { Events: ['s3:ObjectRemoved:*'], QueueArn: arn(queue) },
        ],
      },
    });
  });

  it('denies every request without TLS, and a PUT under uploads/ without If-None-Match (presigned uploads are one-shot)', () => {
    const bucket = logicalId('AWS::S3::Bucket', 'StorageImages');
    s.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucket },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          {
            Sid: 'DenyUploadsWithoutIfNoneMatch',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:PutObject',
            Resource: { 'Fn::Join': ['', [arn(bucket), '/uploads/*']] },
            Condition: { Null: { 's3:if-none-match': 'true' } },
          },
        ]),
      },
    });
  });
});

describe('queue and dead-letter queue', () => {
  it('encrypts, long-polls, sizes visibility from the worst-case job, redrives after 5 receives', () => {
    const dlq = logicalId('AWS::SQS::Queue', 'StorageDeadLetterQueue');
    s.template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      ReceiveMessageWaitTimeSeconds: 20,
      VisibilityTimeout: 90,
      RedrivePolicy: { deadLetterTargetArn: arn(dlq), maxReceiveCount: 5 },
    });
  });

  it('keeps dead letters for 14 days, encrypted', () => {
    s.template.hasResourceProperties('AWS::SQS::Queue', { MessageRetentionPeriod: 1_209_600, SqsManagedSseEnabled: true });
  });

  it('lets only this bucket (via the S3 service) send to the queue, and only over TLS', () => {
    const bucket = logicalId('AWS::S3::Bucket', 'StorageImages');
    const queue = logicalId('AWS::SQS::Queue', 'StorageJobs');
    const [, policy] = resourcesOf(s.json, 'AWS::SQS::QueuePolicy').find(([, r]) => JSON.stringify(r.Properties?.Queues) === JSON.stringify([{ Ref: queue }])) ?? [];
    const statements = (policy?.Properties?.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement;
    const allows = statements.filter((st) => st.Effect === 'Allow');
    expect(allows).toEqual([
      {
        Action: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'],
        Condition: { ArnLike: { 'aws:SourceArn': arn(bucket) } },
        Effect: 'Allow',
        Principal: { Service: 's3.amazonaws.com' },
        Resource: arn(queue),
      },
    ]);
    expect(statements.some((st) => st.Effect === 'Deny' && JSON.stringify(st.Condition).includes('SecureTransport'))).toBe(true);
  });
});

describe('table', () => {
  it('is on-demand with pk only, TTL on ttl, point-in-time recovery, no indexes', () => {
    s.template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })],
      GlobalSecondaryIndexes: Match.absent(),
    });
  });
});

describe('network and cache', () => {
  it('gives only the API function a way out (one NAT gateway, for the issuer keys); the worker and cache subnets have no internet route', () => {
    s.template.resourceCountIs('AWS::EC2::NatGateway', 1);
    const defaultRoutes = resourcesOf(s.json, 'AWS::EC2::Route').filter(([, r]) => r.Properties?.DestinationCidrBlock === '0.0.0.0/0');
    expect(defaultRoutes.map(([id]) => id.replace(/DefaultRoute[0-9A-F]{8}$/, '')).sort()).toEqual([
      'NetworkVpcapiSubnet1',
      'NetworkVpcapiSubnet2',
      'NetworkVpcnatSubnet1',
      'NetworkVpcnatSubnet2',
    ]);
    for (const [id, r] of defaultRoutes) {
      if (id.includes('api')) expect(r.Properties?.NatGatewayId, id).toBeDefined();
    }
    const [, fn] = resourcesOf(s.json, 'AWS::Lambda::Function').find(([id]) => id.startsWith('ApiHandler')) ?? [];
    expect(JSON.stringify((fn?.Properties?.VpcConfig as { SubnetIds: unknown }).SubnetIds)).toMatch(/NetworkVpcapiSubnet1.*NetworkVpcapiSubnet2/);
    const [, task] = resourcesOf(s.json, 'AWS::ECS::Service')[0] ?? [];
    expect(JSON.stringify(task?.Properties?.NetworkConfiguration)).toMatch(/NetworkVpcprivateSubnet1.*NetworkVpcprivateSubnet2/);
    // The function may only open HTTPS connections and Valkey's ports.
    const apiSg = logicalId('AWS::EC2::SecurityGroup', 'ApiSecurityGroup');
    s.template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('blipline API function'),
      SecurityGroupEgress: [Match.objectLike({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443 })],
    });
    const egress = resourcesOf(s.json, 'AWS::EC2::SecurityGroupEgress').filter(([, r]) => JSON.stringify(r.Properties?.GroupId).includes(apiSg));
    expect(egress.map(([, r]) => r.Properties?.FromPort).sort()).toEqual([6379, 6380]);
    const endpoints = resourcesOf(s.json, 'AWS::EC2::VPCEndpoint').map(([, r]) => JSON.stringify(r.Properties?.ServiceName));
    for (const service of ['.s3', '.dynamodb', '.sqs', '.ecr.api', '.ecr.dkr', '.logs', '.secretsmanager']) {
      expect(endpoints.some((e) => e.includes(service)), service).toBe(true);
    }
    s.template.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway', ServiceName: Match.objectLike({}) });
  });

  it('runs serverless Valkey in the isolated subnets', () => {
    s.template.hasResourceProperties('AWS::ElastiCache::ServerlessCache', {
      Engine: 'valkey',
      SubnetIds: Match.arrayWith([Match.objectLike({ Ref: Match.stringLikeRegexp('NetworkVpcprivateSubnet') })]),
      SecurityGroupIds: [Match.objectLike({ 'Fn::GetAtt': [logicalId('AWS::EC2::SecurityGroup', 'CacheSecurityGroup'), 'GroupId'] })],
    });
  });

  it('lets only the worker and the API reach Valkey', () => {
    const cacheSg = logicalId('AWS::EC2::SecurityGroup', 'CacheSecurityGroup');
    const workerSg = logicalId('AWS::EC2::SecurityGroup', 'WorkerSecurityGroup');
    const apiSg = logicalId('AWS::EC2::SecurityGroup', 'ApiSecurityGroup');
    const ingress = resourcesOf(s.json, 'AWS::EC2::SecurityGroupIngress')
      .map(([, r]) => r.Properties ?? {})
      .filter((p) => JSON.stringify(p.GroupId).includes(cacheSg));
    const sources = new Set(ingress.map((p) => (p.SourceSecurityGroupId as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]));
    expect(sources).toEqual(new Set([workerSg, apiSg]));
    expect(ingress.length).toBeGreaterThan(0);
    expect(ingress.every((p) => p.CidrIp === undefined && p.CidrIpv6 === undefined)).toBe(true);
    const inline = (s.json.Resources as Record<string, { Properties?: { SecurityGroupIngress?: unknown } }>)[cacheSg]?.Properties?.SecurityGroupIngress;
    expect(inline).toBeUndefined();
    // And nothing in the stack accepts inbound traffic from everywhere.
    const inbound = [
      ...resourcesOf(s.json, 'AWS::EC2::SecurityGroup').flatMap(([, r]) => (r.Properties?.SecurityGroupIngress as Record<string, unknown>[] | undefined) ?? []),
      ...resourcesOf(s.json, 'AWS::EC2::SecurityGroupIngress').map(([, r]) => r.Properties ?? {}),
    ];
    expect(inbound.filter((rule) => rule.CidrIp === '0.0.0.0/0' || rule.CidrIpv6 === '::/0')).toEqual([]);
  });
});

describe('worker', () => {
  it('enables Container Insights (the running-task metric scaling reads)', () => {
    s.template.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
  });

  it('is a 2 vCPU / 4 GiB Fargate task with a 120 s stop timeout and the runtime environment', () => {
    s.template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Cpu: '2048',
      Memory: '4096',
      RequiresCompatibilities: ['FARGATE'],
      ContainerDefinitions: [
        Match.objectLike({
          StopTimeout: 120,
          Essential: true,
          LinuxParameters: Match.objectLike({ InitProcessEnabled: true }),
        }),
      ],
    });
    const [, task] = resourcesOf(s.json, 'AWS::ECS::TaskDefinition')[0] ?? [];
    const container = (task?.Properties?.ContainerDefinitions as { Environment: { Name: string; Value: unknown }[] }[])[0];
    const env = Object.fromEntries((container?.Environment ?? []).map((e) => [e.Name, e.Value]));
    expect(env).toMatchObject({
      BLIPLINE_MODEL: '/models/caption',
      BLIPLINE_VQA_MODEL: '/models/vqa',
      BLIPLINE_PRECISION: 'int8',
      BLIPLINE_DECODER_ROWS: '8',
      BLIPLINE_CACHE_DIR: '/models/graphs',
      BLIPLINE_MAX_RECEIVE_COUNT: '5',
      BLIPLINE_VISIBILITY_TIMEOUT_SECONDS: '90',
    });
    for (const name of ['BLIPLINE_BUCKET', 'BLIPLINE_QUEUE_URL', 'BLIPLINE_TABLE', 'AWS_REGION']) expect(env[name], name).toBeDefined();
    expect(JSON.stringify(env.BLIPLINE_REDIS_URL)).toContain('rediss://');
    s.template.hasResourceProperties('AWS::ECS::Service', {
      LaunchType: 'FARGATE',
      NetworkConfiguration: { AwsvpcConfiguration: Match.objectLike({ AssignPublicIp: 'DISABLED' }) },
    });
  });

  it('builds the image from Dockerfile.inference with the model build args (staged, not built, at synth)', () => {
    const image = Object.values(assetsManifest().dockerImages)[0]?.source;
    expect(image?.dockerFile).toBe('Dockerfile.inference');
    expect(image?.dockerBuildArgs).toEqual({
      CAPTION_MODEL: 'Salesforce/blip-image-captioning-base',
      VQA_MODEL: 'Salesforce/blip-vqa-base',
      PRECISION: 'int8',
    });
    expect(image?.platform).toBe('linux/amd64');
    // The build context is staged through .dockerignore's allowlist: no node_modules, tests or web sources.
    const staged = readdirSync(path.join(s.outdir, image?.directory ?? '')).filter((f) => f !== '.dockerignore').sort();
    expect(staged).toEqual(['.npmrc', 'Dockerfile.inference', 'bin', 'package-lock.json', 'package.json', 'services', 'tsconfig.json']);
    expect(existsSync(path.join(s.outdir, image?.directory ?? '', 'services', 'web'))).toBe(false);
  });
});

describe('scaling on the backlog', () => {
  it('scales the service between 0 and maxTasks', () => {
    s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      MinCapacity: 0,
      MaxCapacity: 10,
      ScalableDimension: 'ecs:service:DesiredCount',
      ServiceNamespace: 'ecs',
      RoleARN: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('AWSServiceRoleForApplicationAutoScaling_ECSService')])] }),
    });
  });

  it('tracks backlog per task = (visible captions + visible questions + 1) ÷ running tasks (metric math), both ways', () => {
    const questions = logicalId('AWS::SQS::Queue', 'StorageQuestions');
    s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingScalingPolicyConfiguration: {
        TargetValue: 60,
        DisableScaleIn: false,
        ScaleOutCooldown: 60,
        ScaleInCooldown: 300,
        CustomizedMetricSpecification: {
          Metrics: [
            Match.objectLike({ Id: 'visible', ReturnData: false, MetricStat: Match.objectLike({ Metric: Match.objectLike({ Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible' }) }) }),
            Match.objectLike({
              Id: 'questions',
              ReturnData: false,
              MetricStat: Match.objectLike({
                Metric: Match.objectLike({ Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible', Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [questions, 'QueueName'] } }] }),
              }),
            }),
            Match.objectLike({ Id: 'running', ReturnData: false, MetricStat: Match.objectLike({ Metric: Match.objectLike({ Namespace: 'ECS/ContainerInsights', MetricName: 'RunningTaskCount' }) }) }),
            { Id: 'backlogPerTask', Expression: TRACKED_BACKLOG_PER_TASK, Label: 'Backlog (+1) per task', ReturnData: true },
          ],
        },
      },
    });
  });

  it('adds the first tasks when messages are visible and none run (step rule sized by backlog; it can only add)', () => {
    const policy = logicalId('AWS::ApplicationAutoScaling::ScalingPolicy', 'ColdStart');
    s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'StepScaling',
      StepScalingPolicyConfiguration: Match.objectLike({
        AdjustmentType: 'ChangeInCapacity',
        Cooldown: 300,
        StepAdjustments: Match.arrayWith([{ MetricIntervalLowerBound: 0, MetricIntervalUpperBound: 60, ScalingAdjustment: 1 }, { MetricIntervalLowerBound: 480, ScalingAdjustment: 10 }]),
      }),
    });
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      EvaluationPeriods: 1,
      AlarmActions: [{ Ref: policy }],
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'IF(FILL(running, 0) == 0, visible + FILL(questions, 0), 0)' })]),
    });
  });

  it('scales in to zero only after visible AND in-flight (captions and questions) are zero for 10 minutes', () => {
    const policy = logicalId('AWS::ApplicationAutoScaling::ScalingPolicy', 'ScaleInWhenIdle');
    s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'StepScaling',
      StepScalingPolicyConfiguration: Match.objectLike({ AdjustmentType: 'ExactCapacity', StepAdjustments: [{ MetricIntervalUpperBound: 0, ScalingAdjustment: 0 }] }),
    });
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ComparisonOperator: 'LessThanOrEqualToThreshold',
      Threshold: 0,
      EvaluationPeriods: 10,
      DatapointsToAlarm: 10,
      TreatMissingData: 'breaching',
      AlarmActions: [{ Ref: policy }],
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'visible + inFlight + questions + questionsInFlight' }),
        Match.objectLike({ Id: 'inFlight', MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'ApproximateNumberOfMessagesNotVisible' }) }) }),
      ]),
    });
    // Three policies: target tracking, the additive cold start, the idle rule.
    const stepPolicies = resourcesOf(s.json, 'AWS::ApplicationAutoScaling::ScalingPolicy');
    expect(stepPolicies).toHaveLength(3);
  });

  it("lets the worker set its own task's scale-in protection (tasks of this cluster only)", () => {
    const cluster = logicalId('AWS::ECS::Cluster', 'Cluster');
    const policies = resourcesOf(s.json, 'AWS::IAM::Policy').filter(([id]) => id.includes('TaskRole'));
    const statements = policies.flatMap(([, p]) => (p.Properties?.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement);
    const protection = statements.filter((st) => [st.Action].flat().includes('ecs:UpdateTaskProtection'));
    expect(protection).toHaveLength(1);
    expect([protection[0]?.Action].flat().sort()).toEqual(['ecs:GetTaskProtection', 'ecs:UpdateTaskProtection']);
    const resource = JSON.stringify(protection[0]?.Resource);
    expect(resource).toContain(':task/');
    expect(resource).toContain(cluster);
  });
});

describe('API', () => {
  it('is a Node 22 arm64 function in the VPC with the runtime environment', () => {
    s.template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      VpcConfig: Match.objectLike({ SecurityGroupIds: [Match.objectLike({ 'Fn::GetAtt': [logicalId('AWS::EC2::SecurityGroup', 'ApiSecurityGroup'), 'GroupId'] })] }),
      Environment: {
        Variables: Match.objectLike({
          BLIPLINE_WEB_DIR: '/var/task/web',
          BLIPLINE_ALLOWED_ORIGINS: { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [logicalId('AWS::CloudFront::Distribution', 'EdgeDistribution'), 'DomainName'] }]] },
          BLIPLINE_MAX_UPLOAD_BYTES: '33554432',
          BLIPLINE_MODEL: 'Salesforce/blip-image-captioning-base',
          BLIPLINE_BUCKET: Match.anyValue(),
          BLIPLINE_QUEUE_URL: Match.anyValue(),
          BLIPLINE_TABLE: Match.anyValue(),
          BLIPLINE_REDIS_URL: Match.anyValue(),
        }),
      },
    });
  });

  it('bundles the handler with esbuild and the built upload page', () => {
    const fn = resourcesOf(s.json, 'AWS::Lambda::Function').find(([id]) => id.startsWith('ApiHandler'));
    const key = (fn?.[1].Properties?.Code as { S3Key?: string } | undefined)?.S3Key ?? '';
    const asset = assetsManifest().files[key.replace(/\.zip$/, '')]?.source;
    expect(asset?.packaging).toBe('zip');
    const dir = path.join(s.outdir, asset?.path ?? '');
    expect(existsSync(path.join(dir, 'index.mjs'))).toBe(true);
    expect(existsSync(path.join(dir, 'web', 'index.html'))).toBe(true);
  });

  it('the bundled handler runs: answers /healthz and serves the page from the bundle (payload 2.0)', () => {
    const fn = resourcesOf(s.json, 'AWS::Lambda::Function').find(([id]) => id.startsWith('ApiHandler'));
    const key = (fn?.[1].Properties?.Code as { S3Key?: string } | undefined)?.S3Key ?? '';
    const dir = path.join(s.outdir, assetsManifest().files[key.replace(/\.zip$/, '')]?.source.path ?? '');
    const event = (rawPath: string) => ({
      version: '2.0',
      routeKey: '$default',
      rawPath,
      rawQueryString: '',
      headers: { host: 'api.example.com', 'user-agent': 'test' },
      requestContext: {
        accountId: '123456789012',
        apiId: 'api',
        domainName: 'api.example.com',
        domainPrefix: 'api',
        http: { method: 'GET', path: rawPath, protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'test' },
        requestId: 'request',
        routeKey: '$default',
        stage: '$default',
        time: '01/Jan/2026:00:00:00 +0000',
        timeEpoch: 0,
      },
      isBase64Encoded: false,
    });
    const script = `
      const { handler } = await import(${JSON.stringify(path.join(dir, 'index.mjs'))});
      const out = [];
      for (const p of ['/healthz', '/']) out.push(await handler(JSON.parse(process.env.EVENT_TEMPLATE.replaceAll('__PATH__', p)), {}));
      process.stdout.write(JSON.stringify(out));
      process.exit(0);`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 30_000,
      env: {
        PATH: process.env.PATH ?? '',
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        BLIPLINE_BUCKET: 'images',
        BLIPLINE_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/jobs',
        BLIPLINE_QUESTION_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/questions',
        // No issuer to reach from the test: the open routes answer the same in either mode.
        BLIPLINE_AUTH: 'anonymous',
        BLIPLINE_TABLE: 'records',
        // The deployed function reads /var/task/web; here the same folder inside the bundle.
        BLIPLINE_WEB_DIR: path.join(dir, 'web'),
        LOG_LEVEL: 'silent',
        EVENT_TEMPLATE: JSON.stringify(event('__PATH__')),
      },
    });
    expect(run.status, run.stderr).toBe(0);
    const [health, page] = JSON.parse(run.stdout) as { statusCode: number; body: string; headers: Record<string, string> }[];
    expect(health?.statusCode).toBe(200);
    expect(JSON.parse(health?.body ?? '{}')).toMatchObject({ status: 'ok' });
    expect(page?.statusCode).toBe(200);
    expect(page?.headers['content-type']).toMatch(/text\/html/);
  });

  it('sits behind an HTTP API with throttling and access logs (CORS answered by the app)', () => {
    s.template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP', CorsConfiguration: Match.absent() });
    s.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
    s.template.hasOutput('ApiUrl', {});
    s.template.hasOutput('BucketName', {});
  });
});

describe('IAM least privilege', () => {
  type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
  const statementsOf = (fragment: string): Statement[] => {
    const [, policy] = resourcesOf(s.json, 'AWS::IAM::Policy').find(([id]) => id.includes(fragment)) ?? [];
    return ((policy?.Properties?.PolicyDocument as { Statement: Statement[] } | undefined)?.Statement ?? []);
  };
  const actions = (st: Statement) => (Array.isArray(st.Action) ? st.Action : [st.Action]);

  it('grants no wildcard actions anywhere, and no * resource on data resources', () => {
    for (const [id, policy] of resourcesOf(s.json, 'AWS::IAM::Policy')) {
      for (const st of (policy.Properties?.PolicyDocument as { Statement: Statement[] }).Statement) {
        for (const action of actions(st)) expect(action, `${id}: ${action}`).not.toMatch(/(^\*$|:\*$|\*)/);
        if (st.Resource === '*') expect(actions(st), id).toEqual(['ecr:GetAuthorizationToken']);
      }
    }
  });

  const tableActions = [
    'dynamodb:BatchGetItem',
    'dynamodb:BatchWriteItem',
    'dynamodb:ConditionCheckItem',
    'dynamodb:DeleteItem',
    'dynamodb:GetItem',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
  ];

  it('worker: reads objects (404 for missing keys), consumes both queues, item-level table access', () => {
    const table = logicalId('AWS::DynamoDB::GlobalTable', 'StorageRecords');
    const queue = logicalId('AWS::SQS::Queue', 'StorageJobs');
    const questions = logicalId('AWS::SQS::Queue', 'StorageQuestions');
    expect(statementsOf('WorkerTaskTaskRole').map((st) => [actions(st).sort(), st.Resource])).toEqual([
      [['s3:GetObject'], { 'Fn::Join': ['', [arn(logicalId('AWS::S3::Bucket', 'StorageImages')), '/*']] }],
      [['s3:ListBucket'], arn(logicalId('AWS::S3::Bucket', 'StorageImages'))],
      [['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage'], [arn(queue), arn(questions)]],
      [tableActions, arn(table)],
      // its own task's scale-in protection (resource checked in 'scaling on the backlog')
      [['ecs:GetTaskProtection', 'ecs:UpdateTaskProtection'], expect.objectContaining({ 'Fn::Join': expect.any(Array) })],
      // Result events and webhook deliveries (test/infra/events.test.ts).
      [['events:PutEvents'], arn(logicalId('AWS::Events::EventBus', 'EventsBus'))],
      [['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage', 'sqs:SendMessage'], arn(logicalId('AWS::SQS::Queue', 'EventsWebhookDeliveries'))],
    ]);
  });

  it('API: writes only under uploads/, deletes objects, sends only questions, item-level table access, reads the cache password', () => {
    const bucket = logicalId('AWS::S3::Bucket', 'StorageImages');
    const questions = logicalId('AWS::SQS::Queue', 'StorageQuestions');
    const statements = statementsOf('ApiHandlerServiceRole');
    expect(statements.map((st) => [actions(st).sort(), st.Resource])).toEqual([
      [['s3:PutObject'], { 'Fn::Join': ['', [arn(bucket), '/uploads/*']] }],
      [['s3:DeleteObject'], { 'Fn::Join': ['', [arn(bucket), '/*']] }],
      [['sqs:SendMessage'], arn(questions)],
      [tableActions, arn(logicalId('AWS::DynamoDB::GlobalTable', 'StorageRecords'))],
      [['secretsmanager:GetSecretValue'], { Ref: logicalId('AWS::SecretsManager::Secret', 'SecretsRedisPassword') }],
      [['events:PutEvents'], arn(logicalId('AWS::Events::EventBus', 'EventsBus'))],
    ]);
  });
});

describe('alarms and dashboard', () => {
  const alarmOn = (metricName: string) =>
    resourcesOf(s.json, 'AWS::CloudWatch::Alarm').filter(([, r]) => JSON.stringify(r.Properties).includes(`"${metricName}"`));

  it('alarms on dead letters, oldest message age, worker errors, task count and backlog per task, to the topic', () => {
    const topic = logicalId('AWS::SNS::Topic', 'AlarmTopic');
    for (const fragment of ['StorageDeadLetterQueue', 'StorageQuestionsDeadLetterQueue']) {
      const dlq = logicalId('AWS::SQS::Queue', fragment);
      s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } }],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmActions: [{ Ref: topic }],
      });
    }
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Threshold: 600,
      AlarmActions: [{ Ref: topic }],
    });
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'WorkerErrors', Namespace: 'blipline', AlarmActions: [{ Ref: topic }] });
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'RunningTaskCount', Threshold: 10, AlarmActions: [{ Ref: topic }] });
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 180,
      AlarmActions: [{ Ref: topic }],
      Metrics: Match.arrayWith([Match.objectLike({ Expression: BACKLOG_PER_TASK })]),
    });
    expect(alarmOn('Errors').length).toBeGreaterThan(0);
  });

  it('counts worker errors from log lines at level error or fatal (test/infra/log-formats.test.ts checks them against the logger)', () => {
    s.template.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: '{ ($.level = "error") || ($.level = "fatal") }',
      MetricTransformations: [Match.objectLike({ MetricName: 'WorkerErrors', MetricNamespace: 'blipline', MetricValue: '1' })],
    });
  });

  it("has a dashboard of the queue, tasks, backlog per task, DLQ, errors and the worker's own metrics", () => {
    s.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const body = JSON.stringify(resourcesOf(s.json, 'AWS::CloudWatch::Dashboard')[0]?.[1].Properties?.DashboardBody);
    for (const metric of ['ApproximateNumberOfMessagesVisible', 'ApproximateAgeOfOldestMessage', 'RunningTaskCount', 'DesiredTaskCount', BACKLOG_PER_TASK, 'WorkerErrors', 'ImagesProcessed', 'InferenceMs']) {
      expect(body, metric).toContain(metric);
    }
  });
});

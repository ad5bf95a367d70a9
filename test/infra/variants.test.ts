import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { functionEnvironment, resourcesOf, synthBlipline } from './support.js';

// One synthesis with non-default props: each setting must reach the resources it governs.
const s = synthBlipline({
  bundling: false,
  props: {
    allowedOrigins: ['https://photos.example.com'],
    notificationPrefix: 'uploads/',
    vqaModel: '',
    precision: 'fp32',
    workerArchitecture: 'arm64',
    worstCaseJobTime: Duration.seconds(60),
    scaling: { maxTasks: 4, secondsPerImage: 1.5, acceptableLatency: Duration.seconds(90), scaleInIdle: Duration.minutes(5) },
    apiRateLimit: 10,
    apiBurstLimit: 20,
    uploadRetentionDays: 7,
    retention: { droppedObjectDays: 90, accessLogDays: 14 },
    quotas: { uploadsPerDay: 5, uploadBytesPerDay: 1_000_000, questionsPerImage: 3, questionsPerMinute: 2 },
    uploadExpires: Duration.seconds(120),
    edge: { rateLimitPer5Minutes: 300 },
  },
});
afterAll(() => {
  rmSync(s.outdir, { recursive: true, force: true });
});

describe('stack props reach the template', () => {
  it("origins: bucket CORS and the app's CORS allow the page and the extra origin", () => {
    s.template.hasResourceProperties('AWS::S3::Bucket', {
      CorsConfiguration: { CorsRules: [Match.objectLike({ AllowedOrigins: [Match.objectLike({ 'Fn::Join': Match.anyValue() }), 'https://photos.example.com'] })] },
    });
    expect(JSON.stringify(functionEnvironment(s.json, 'ApiHandler').BLIPLINE_ALLOWED_ORIGINS)).toContain(',https://photos.example.com');
    s.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { DefaultRouteSettings: { ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 } });
  });

  it('notificationPrefix filters the ObjectCreated and ObjectRemoved notifications', () => {
    const filter = { Key: { FilterRules: [{ Name: 'prefix', Value: 'uploads/' }] } };
    s.template.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: {
        QueueConfigurations: [
          Match.objectLike({ Events: ['s3:ObjectCreated:*'], Filter: filter }),
          Match.objectLike({ Events: ['s3:ObjectRemoved:*'], Filter: filter }),
        ],
      },
    });
  });

  it('no VQA model: no build of it, no BLIPLINE_VQA_MODEL; fp32 and arm64 reach the image and the task', () => {
    const assets = JSON.parse(readFileSync(path.join(s.outdir, `${s.stack.stackName}.assets.json`), 'utf8')) as {
      dockerImages: Record<string, { source: { dockerBuildArgs?: Record<string, string>; platform?: string } }>;
    };
    const image = Object.values(assets.dockerImages)[0]?.source;
    expect(image?.dockerBuildArgs).toMatchObject({ VQA_MODEL: '', PRECISION: 'fp32' });
    expect(image?.platform).toBe('linux/arm64');
    const [, task] = resourcesOf(s.json, 'AWS::ECS::TaskDefinition')[0] ?? [];
    expect(task?.Properties?.RuntimePlatform).toEqual({ CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' });
    const env = (task?.Properties?.ContainerDefinitions as { Environment: { Name: string; Value: unknown }[] }[])[0]?.Environment ?? [];
    const names = env.map((e) => e.Name);
    expect(names).not.toContain('BLIPLINE_VQA_MODEL');
    expect(env).toContainEqual({ Name: 'BLIPLINE_PRECISION', Value: 'fp32' });
    expect(env).toContainEqual({ Name: 'BLIPLINE_VISIBILITY_TIMEOUT_SECONDS', Value: '180' });
  });

  it('retention: uploads after 7 days, dropped objects after 90, logs after 14 days', () => {
    const rules = resourcesOf(s.json, 'AWS::S3::Bucket').map(([id, r]) => [id, (r.Properties?.LifecycleConfiguration as { Rules: Record<string, unknown>[] } | undefined)?.Rules ?? []] as const);
    const images = rules.find(([id]) => id.startsWith('StorageImages'))?.[1] ?? [];
    expect(images.map((r) => [r.Id, r.ExpirationInDays])).toEqual([
      ['abort-incomplete-multipart-uploads', undefined],
      ['expire-api-uploads', 7],
      ['expire-dropped-objects', 90],
    ]);
    const logs = rules.filter(([id]) => id.startsWith('StorageAccessLogs') || id.startsWith('EdgeLogs'));
    expect(logs).toHaveLength(2);
    for (const [id, list] of logs) expect(list.map((r) => r.ExpirationInDays), id).toEqual([14]);
  });

  it('quotas, upload lifetime and the WAF rate limit reach the API and the web ACL', () => {
    expect(functionEnvironment(s.json, 'ApiHandler')).toMatchObject({
      BLIPLINE_QUOTA_UPLOADS_PER_DAY: '5',
      BLIPLINE_QUOTA_UPLOAD_BYTES_PER_DAY: '1000000',
      BLIPLINE_QUOTA_QUESTIONS_PER_IMAGE: '3',
      BLIPLINE_QUOTA_QUESTIONS_PER_MINUTE: '2',
      BLIPLINE_UPLOAD_EXPIRES_SECONDS: '120',
    });
    s.template.hasResourceProperties('AWS::WAFv2::WebACL', {
      Rules: Match.arrayWith([Match.objectLike({ Name: 'RateLimitPerIp', Statement: { RateBasedStatement: Match.objectLike({ Limit: 300 }) } })]),
    });
  });

  it('worst-case job time sizes the queue visibility', () => {
    s.template.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 180, RedrivePolicy: Match.anyValue() });
  });

  it('scaling settings: max tasks, target = latency ÷ seconds per image, cold-start tiers, idle window', () => {
    s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 0, MaxCapacity: 4 });
    s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({ TargetValue: 60 }),
    });
    s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      StepScalingPolicyConfiguration: Match.objectLike({
        StepAdjustments: [
          { MetricIntervalLowerBound: 0, MetricIntervalUpperBound: 60, ScalingAdjustment: 1 },
          { MetricIntervalLowerBound: 60, MetricIntervalUpperBound: 120, ScalingAdjustment: 2 },
          { MetricIntervalLowerBound: 120, ScalingAdjustment: 4 },
        ],
      }),
    });
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ComparisonOperator: 'LessThanOrEqualToThreshold',
      EvaluationPeriods: 5,
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'visible + inFlight + questions + questionsInFlight' })]),
    });
  });
});

import { ArnFormat, DockerBuildSecret, Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwactions from 'aws-cdk-lib/aws-cloudwatch-actions';
import { DockerImageAsset, Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { REPO_ROOT } from '../paths.js';
import { TABLE_ITEM_ACTIONS } from './grants.js';
import { errorLinesPattern } from './log-formats.js';
import { cacheEnvironment, type ServiceWiring } from './wiring.js';

export interface WorkerProps extends ServiceWiring {
  /** HMAC key of dropped objects' image ids (BLIPLINE_OBJECT_ID_SECRET). */
  readonly objectIdSecret: secretsmanager.ISecret;
}

/** Backlog per task: visible captioning jobs plus visible questions, per running task. */
export const BACKLOG_PER_TASK = '(visible + FILL(questions, 0)) / running';
/** What target tracking follows: the backlog + 1 per task, so a quiet trickle keeps one task (see rule 1). */
export const TRACKED_BACKLOG_PER_TASK = '(visible + FILL(questions, 0) + 1) / running';

/** The Docker build secret id Dockerfile.inference mounts while it downloads the models. */
export const HUB_TOKEN_SECRET = 'hf_token';

/** `--secret id=hf_token,<this>`: from an environment variable or a file on the building machine. */
function hubTokenSecret(token: { env: string } | { file: string }): string {
  return 'env' in token ? `env=${token.env}` : DockerBuildSecret.fromSrc(token.file);
}

/** Where the image build puts the prepared checkpoints and compiled graphs (see Dockerfile.inference). */
export const MODEL_DIRS = { caption: '/models/caption', vqa: '/models/vqa', graphs: '/models/graphs' } as const;

/**
 * The captioning worker: a Fargate service from Dockerfile.inference, 0..N tasks scaled on the
 * queue's backlog (see services/scaling/policy.ts for the rules and the simulation that chose them).
 *
 * Size: 2 vCPU / 4 GiB by default. BLIP base is about 250M parameters: the int8 caption and VQA
 * graphs plus ONNX Runtime arenas fit in about 2 GiB, 4 GiB leaves room for decoding large images
 * (bounded pixels); 2 vCPUs give ONNX Runtime two intra-op threads, the knee of seconds-per-image vs
 * price for a batch-of-one worker (more vCPUs help one image less than more tasks help a backlog).
 */
export class Worker extends Construct {
  readonly cluster: ecs.Cluster;
  readonly service: ecs.FargateService;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly image: DockerImageAsset;
  readonly logGroup: logs.LogGroup;
  readonly scalableTarget: appscaling.ScalableTarget;
  readonly errorsMetric: cloudwatch.Metric;
  readonly runningTasksMetric: cloudwatch.Metric;
  readonly desiredTasksMetric: cloudwatch.Metric;
  readonly backlogPerTask: cloudwatch.MathExpression;

  constructor(scope: Construct, id: string, props: WorkerProps) {
    super(scope, id);
    const { config } = props;
    const policy = config.scaling;
    const period = Duration.seconds(policy.metricPeriodSeconds);

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: props.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });

    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_MONTH });

    const arm = config.workerArchitecture === 'arm64';
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: config.workerCpu,
      memoryLimitMiB: config.workerMemoryMiB,
      runtimePlatform: {
        cpuArchitecture: arm ? ecs.CpuArchitecture.ARM64 : ecs.CpuArchitecture.X86_64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    });

    const environment: Record<string, string> = {
      BLIPLINE_BUCKET: props.bucket.bucketName,
      BLIPLINE_QUEUE_URL: props.queue.queueUrl,
      BLIPLINE_QUESTION_QUEUE_URL: props.questionQueue.queueUrl,
      BLIPLINE_TABLE: props.table.tableName,
      ...cacheEnvironment(props.cache),
      BLIPLINE_MODEL: MODEL_DIRS.caption,
      BLIPLINE_PRECISION: config.precision,
      BLIPLINE_DECODER_ROWS: String(config.workerDecoderRows),
      BLIPLINE_CACHE_DIR: MODEL_DIRS.graphs,
      BLIPLINE_MAX_RECEIVE_COUNT: String(config.maxReceiveCount),
      BLIPLINE_VISIBILITY_TIMEOUT_SECONDS: String(config.visibilityTimeoutSeconds),
      BLIPLINE_RECORD_TTL_DAYS: String(config.recordTtlDays),
      BLIPLINE_MAX_UPLOAD_BYTES: String(config.maxUploadBytes),
      AWS_REGION: Stack.of(this).region,
      LOG_LEVEL: 'info',
    };
    if (config.vqaModel !== '') environment.BLIPLINE_VQA_MODEL = MODEL_DIRS.vqa;

    this.image = new DockerImageAsset(this, 'Image', {
      directory: REPO_ROOT,
      file: 'Dockerfile.inference',
      platform: arm ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64,
      buildArgs: { CAPTION_MODEL: config.captionModel, VQA_MODEL: config.vqaModel, PRECISION: config.precision },
      // A gated or private model's token: a build secret, mounted only while the models download.
      ...(config.modelAccessToken ? { buildSecrets: { [HUB_TOKEN_SECRET]: hubTokenSecret(config.modelAccessToken) } } : {}),
    });
    this.taskDefinition.addContainer('worker', {
      image: ecs.ContainerImage.fromDockerImageAsset(this.image),
      essential: true,
      environment,
      // Fetched by Fargate at task start (execution role), never in the task definition.
      secrets: {
        BLIPLINE_REDIS_PASSWORD: ecs.Secret.fromSecretsManager(props.cache.password),
        BLIPLINE_OBJECT_ID_SECRET: ecs.Secret.fromSecretsManager(props.objectIdSecret),
      },
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'worker', logGroup: this.logGroup }),
      // SIGTERM → the worker stops polling and finishes the job in hand; SIGKILL only after this.
      stopTimeout: Duration.seconds(config.stopTimeoutSeconds),
      linuxParameters: new ecs.LinuxParameters(this, 'Linux', { initProcessEnabled: true }),
    });

    // Least privilege: read objects, consume the two queues, item-level table access.
    const taskRole = this.taskDefinition.taskRole;
    taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [props.bucket.arnForObjects('*')] }),
    );
    // Without ListBucket, S3 answers 403 instead of 404 for an object deleted before its event is handled.
    taskRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [props.bucket.bucketArn] }));
    taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'],
        resources: [props.queue.queueArn, props.questionQueue.queueArn],
      }),
    );
    taskRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...TABLE_ITEM_ACTIONS], resources: [props.table.tableArn] }));
    // Task scale-in protection while messages are held: the ECS agent endpoint acts with the task role.
    const clusterTasks = Stack.of(this).formatArn({ service: 'ecs', resource: 'task', resourceName: `${this.cluster.clusterName}/*`, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    taskRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ecs:GetTaskProtection', 'ecs:UpdateTaskProtection'], resources: [clusterTasks] }));
    // cdk-nag names the resource as the template has it: a known region and partition literally, else their pseudo parameters.
    const stack = Stack.of(this);
    const literal = (value: string, pseudo: string) => (Token.isUnresolved(value) ? `<${pseudo}>` : value);
    Validations.of(taskRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:${literal(stack.partition, 'AWS::Partition')}:ecs:${literal(stack.region, 'AWS::Region')}:<AWS::AccountId>:task/<${stack.getLogicalId(this.cluster.node.defaultChild as ecs.CfnCluster)}>/*]`,
      reason: "Task ids are not known before a task starts; the wildcard is the tasks of this one cluster, and the only actions read and set a task's own scale-in protection (the ECS agent endpoint acts with the task role).",
    });

    this.service = new ecs.FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      securityGroups: [props.securityGroup],
      vpcSubnets: props.subnets,
      assignPublicIp: false,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { rollback: true },
    });

    // ---- Scaling on the backlog (captions and questions: one fleet serves both queues) ----
    const visible = props.queue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' });
    const inFlight = props.queue.metricApproximateNumberOfMessagesNotVisible({ period, statistic: 'Maximum' });
    const questions = props.questionQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' });
    const questionsInFlight = props.questionQueue.metricApproximateNumberOfMessagesNotVisible({ period, statistic: 'Maximum' });
    const serviceDimensions = { ClusterName: this.cluster.clusterName, ServiceName: this.service.serviceName };
    this.runningTasksMetric = new cloudwatch.Metric({
      namespace: 'ECS/ContainerInsights',
      metricName: 'RunningTaskCount',
      dimensionsMap: serviceDimensions,
      statistic: 'Average',
      period,
    });
    this.desiredTasksMetric = new cloudwatch.Metric({
      namespace: 'ECS/ContainerInsights',
      metricName: 'DesiredTaskCount',
      dimensionsMap: serviceDimensions,
      statistic: 'Average',
      period,
    });
    this.backlogPerTask = new cloudwatch.MathExpression({
      expression: BACKLOG_PER_TASK,
      usingMetrics: { visible, questions, running: this.runningTasksMetric },
      label: 'Backlog per task',
      period,
    });

    this.scalableTarget = new appscaling.ScalableTarget(this, 'ScalableTarget', {
      serviceNamespace: appscaling.ServiceNamespace.ECS,
      scalableDimension: 'ecs:service:DesiredCount',
      resourceId: `service/${this.cluster.clusterName}/${this.service.serviceName}`,
      minCapacity: 0,
      maxCapacity: policy.maxTasks,
      // The service-linked role Application Auto Scaling uses for ECS (what autoScaleTaskCount uses).
      role: iam.Role.fromRoleArn(
        this,
        'ScalingRole',
        Stack.of(this).formatArn({
          region: '',
          service: 'iam',
          resource: 'role/aws-service-role/ecs.application-autoscaling.amazonaws.com',
          resourceName: 'AWSServiceRoleForApplicationAutoScaling_ECSService',
        }),
      ),
    });

    // 1. Target tracking on (visible captions + visible questions + 1) ÷ running (metric math), both ways. Scale-in
    // never interrupts a job: a task holding messages is protected (services/worker/task-protection.ts) and ECS
    // stops only idle tasks. The +1 keeps one task while the queues are merely quiet; rule 3 takes the last one away.
    const sqsDimensions = [{ name: 'QueueName', value: props.queue.queueName }];
    const questionDimensions = [{ name: 'QueueName', value: props.questionQueue.queueName }];
    new appscaling.CfnScalingPolicy(this, 'BacklogPerTaskTracking', {
      policyName: `${Stack.of(this).stackName}-backlog-per-task`,
      policyType: 'TargetTrackingScaling',
      scalingTargetId: this.scalableTarget.scalableTargetId,
      targetTrackingScalingPolicyConfiguration: {
        targetValue: policy.targetBacklogPerTask,
        disableScaleIn: false,
        scaleOutCooldown: policy.scaleOutCooldownSeconds,
        scaleInCooldown: policy.scaleInCooldownSeconds,
        customizedMetricSpecification: {
          metrics: [
            {
              id: 'visible',
              metricStat: {
                metric: { namespace: 'AWS/SQS', metricName: 'ApproximateNumberOfMessagesVisible', dimensions: sqsDimensions },
                stat: 'Maximum',
              },
              returnData: false,
            },
            {
              id: 'questions',
              metricStat: {
                metric: { namespace: 'AWS/SQS', metricName: 'ApproximateNumberOfMessagesVisible', dimensions: questionDimensions },
                stat: 'Maximum',
              },
              returnData: false,
            },
            {
              id: 'running',
              metricStat: {
                metric: {
                  namespace: 'ECS/ContainerInsights',
                  metricName: 'RunningTaskCount',
                  dimensions: [
                    { name: 'ClusterName', value: this.cluster.clusterName },
                    { name: 'ServiceName', value: this.service.serviceName },
                  ],
                },
                stat: 'Average',
              },
              returnData: false,
            },
            { id: 'backlogPerTask', expression: TRACKED_BACKLOG_PER_TASK, label: 'Backlog (+1) per task', returnData: true },
          ],
        },
      },
    });

    // 2. Cold start: messages visible while no task runs → add tasks sized by the backlog. It adds
    // (ChangeInCapacity) rather than setting an exact count: FILL reads a late or missing running-task datapoint
    // as "none run", and then the rule may only add tasks, never lower a running fleet. Its cooldown covers a
    // task start; within it Application Auto Scaling counts the tasks already added against the next step.
    const coldStart = new appscaling.StepScalingAction(this, 'ColdStart', {
      scalingTarget: this.scalableTarget,
      adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
      cooldown: Duration.seconds(policy.coldStartCooldownSeconds),
      metricAggregationType: appscaling.MetricAggregationType.MAXIMUM,
    });
    for (const step of policy.coldStartSteps) {
      coldStart.addAdjustment({ adjustment: step.tasks, lowerBound: step.lower, upperBound: step.upper });
    }
    const coldStartAlarm = new cloudwatch.Alarm(this, 'ColdStartAlarm', {
      alarmDescription: 'Scaling: messages are visible while no worker task runs; starts the first task(s).',
      metric: new cloudwatch.MathExpression({
        expression: 'IF(FILL(running, 0) == 0, visible + FILL(questions, 0), 0)',
        usingMetrics: { visible, questions, running: this.runningTasksMetric },
        label: 'Visible messages while no task runs',
        period,
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    coldStartAlarm.addAlarmAction(new cwactions.ApplicationScalingAction(coldStart));

    // 3. Idle: nothing visible AND nothing in flight for scaleInIdleMinutes → 0 tasks.
    const scaleIn = new appscaling.StepScalingAction(this, 'ScaleInWhenIdle', {
      scalingTarget: this.scalableTarget,
      adjustmentType: appscaling.AdjustmentType.EXACT_CAPACITY,
      cooldown: period,
      metricAggregationType: appscaling.MetricAggregationType.MAXIMUM,
    });
    scaleIn.addAdjustment({ adjustment: 0, upperBound: 0 });
    const idleAlarm = new cloudwatch.Alarm(this, 'IdleAlarm', {
      alarmDescription: `Scaling: no visible and no in-flight messages for ${policy.scaleInIdleMinutes} minutes; stops all worker tasks.`,
      metric: new cloudwatch.MathExpression({
        expression: 'visible + inFlight + questions + questionsInFlight',
        usingMetrics: { visible, inFlight, questions, questionsInFlight },
        label: 'Visible + in-flight messages',
        period,
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: policy.scaleInIdleMinutes,
      datapointsToAlarm: policy.scaleInIdleMinutes,
      // SQS stops publishing metrics for a queue idle for hours: no data means an empty queue.
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    idleAlarm.addAlarmAction(new cwactions.ApplicationScalingAction(scaleIn));

    // Worker errors: log lines at level error or fatal (the services log the level's label).
    const errorsFilter = new logs.MetricFilter(this, 'ErrorLines', {
      logGroup: this.logGroup,
      filterPattern: errorLinesPattern(),
      metricNamespace: 'blipline',
      metricName: 'WorkerErrors',
      metricValue: '1',
      defaultValue: 0,
    });
    this.errorsMetric = errorsFilter.metric({ statistic: 'Sum', period: Duration.minutes(5) });
  }
}

import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwactions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { ResolvedConfig } from '../config.js';
import type { Worker } from './worker.js';

export interface MonitoringProps {
  readonly config: ResolvedConfig;
  readonly queue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  readonly questionDeadLetterQueue: sqs.IQueue;
  readonly worker: Worker;
  readonly apiHandler: lambda.IFunction;
}

/** Alarms (to one SNS topic) and a dashboard of the pipeline. */
export class Monitoring extends Construct {
  readonly topic: sns.Topic;
  /** Customer-managed key the alarm topic is encrypted with (CloudWatch may use it for this account's alarms). */
  readonly topicKey: kms.Key;
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: Record<'deadLetters' | 'questionDeadLetters' | 'oldestMessage' | 'workerErrors' | 'tasksAtMax' | 'backlogPerTask' | 'apiErrors', cloudwatch.Alarm>;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { config, queue, deadLetterQueue, worker } = props;
    const policy = config.scaling;
    const minute = Duration.minutes(1);
    const fiveMinutes = Duration.minutes(5);

    const alarmTopic = alarmTopicWithKey(this);
    this.topic = alarmTopic.topic;
    this.topicKey = alarmTopic.key;
    if (config.alarmEmail !== undefined) this.topic.addSubscription(new subscriptions.EmailSubscription(config.alarmEmail));
    const notify = new cwactions.SnsAction(this.topic);

    const visible = queue.metricApproximateNumberOfMessagesVisible({ period: minute, statistic: 'Maximum' });
    const inFlight = queue.metricApproximateNumberOfMessagesNotVisible({ period: minute, statistic: 'Maximum' });
    const oldest = queue.metricApproximateAgeOfOldestMessage({ period: minute, statistic: 'Maximum' });
    const deadLetters = deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: minute, statistic: 'Maximum' });
    const runningFiveMinutes = worker.runningTasksMetric.with({ period: fiveMinutes, statistic: 'Minimum' });

    this.alarms = {
      deadLetters: this.deadLetterAlarm('DeadLettersAlarm', deadLetters, 'Messages reached the dead-letter queue: jobs failed maxReceiveCount times.'),
      questionDeadLetters: this.deadLetterAlarm(
        'QuestionDeadLettersAlarm',
        props.questionDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: minute, statistic: 'Maximum' }),
        'Questions reached their dead-letter queue: they failed maxReceiveCount times.',
      ),
      oldestMessage: new cloudwatch.Alarm(this, 'OldestMessageAlarm', {
        alarmDescription: `A job has waited over ${config.oldestMessageAlarmSeconds} s: workers are not keeping up or not starting.`,
        metric: oldest,
        threshold: config.oldestMessageAlarmSeconds,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 2,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      workerErrors: new cloudwatch.Alarm(this, 'WorkerErrorsAlarm', {
        alarmDescription: 'The worker logged 5 or more errors in 5 minutes.',
        metric: worker.errorsMetric,
        threshold: 5,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      tasksAtMax: new cloudwatch.Alarm(this, 'TasksAtMaxAlarm', {
        alarmDescription: `All ${policy.maxTasks} worker tasks have run for 30 minutes: raise scaling.maxTasks or expect longer waits.`,
        metric: runningFiveMinutes,
        threshold: policy.maxTasks,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 6,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      backlogPerTask: new cloudwatch.Alarm(this, 'BacklogPerTaskAlarm', {
        alarmDescription: `Backlog per task has stayed above 3× its target (${policy.targetBacklogPerTask}) for 15 minutes.`,
        metric: worker.backlogPerTask,
        threshold: policy.targetBacklogPerTask * 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 15,
        datapointsToAlarm: 15,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      apiErrors: new cloudwatch.Alarm(this, 'ApiErrorsAlarm', {
        alarmDescription: 'The API function failed 5 or more invocations in 5 minutes.',
        metric: props.apiHandler.metricErrors({ period: fiveMinutes, statistic: 'Sum' }),
        threshold: 5,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    };
    for (const alarm of Object.values(this.alarms)) {
      alarm.addAlarmAction(notify);
      alarm.addOkAction(notify);
    }

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Queue: visible and in flight', left: [visible, inFlight], width: 12 }),
      new cloudwatch.GraphWidget({ title: 'Age of oldest message (s)', left: [oldest], width: 12 }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Worker tasks: desired and running',
        left: [worker.desiredTasksMetric, worker.runningTasksMetric],
        leftAnnotations: [{ value: policy.maxTasks, label: 'maxTasks' }],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Backlog per task',
        left: [worker.backlogPerTask],
        leftAnnotations: [{ value: policy.targetBacklogPerTask, label: 'target' }],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Dead-letter queue', left: [deadLetters], width: 8 }),
      new cloudwatch.GraphWidget({ title: 'Worker errors (5 min)', left: [worker.errorsMetric], width: 8 }),
      new cloudwatch.GraphWidget({
        title: 'API invocations and errors',
        left: [props.apiHandler.metricInvocations({ period: fiveMinutes }), props.apiHandler.metricErrors({ period: fiveMinutes })],
        width: 8,
      }),
    );
    // The worker's own metrics (CloudWatch embedded metric format lines on stdout, services/core/metrics.ts).
    const workerMetric = (metricName: string, statistic: string, label: string) =>
      new cloudwatch.Metric({ namespace: 'blipline', metricName, dimensionsMap: { Service: 'worker' }, statistic, period: fiveMinutes, label });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Worker: images, inferences, cache hits (5 min)',
        left: [
          workerMetric('ImagesProcessed', 'Sum', 'images'),
          workerMetric('Inferences', 'Sum', 'inferences'),
          workerMetric('CaptionCacheHits', 'Sum', 'cache hits'),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Worker: inference and queue wait (ms)',
        left: [workerMetric('InferenceMs', 'p50', 'inference p50'), workerMetric('InferenceMs', 'p95', 'inference p95'), workerMetric('QueueWaitMs', 'p95', 'queue wait p95')],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: Object.values(this.alarms), width: 24 }));
  }

  /** Alarms as soon as one message sits in a dead-letter queue. */
  private deadLetterAlarm(id: string, visible: cloudwatch.IMetric, what: string): cloudwatch.Alarm {
    return new cloudwatch.Alarm(this, id, {
      alarmDescription: `${what} Inspect them, fix, then redrive.`,
      metric: visible,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}

/**
 * The alarm topic, encrypted with a customer-managed key (SNS's AWS-managed key cannot be used by
 * CloudWatch, so alarms could not publish). Two policies carry what CloudWatch needs:
 * - the key policy lets `cloudwatch.amazonaws.com` generate data keys and decrypt for this account;
 * - the topic policy: `enforceSSL` writes a Deny for requests without TLS, and a topic policy replaces
 *   SNS's default one, so it also needs an Allow for CloudWatch to publish, limited to this account's
 *   alarms (aws:SourceAccount and aws:SourceArn), or alarm e-mails never arrive.
 */
function alarmTopicWithKey(scope: Construct): { topic: sns.Topic; key: kms.Key } {
  const stack = Stack.of(scope);
  const cloudwatchService = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
  const thisAccountsAlarms = {
    StringEquals: { 'aws:SourceAccount': stack.account },
    ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
  };
  const key = new kms.Key(scope, 'AlarmTopicKey', {
    description: 'blipline alarm topic encryption (CloudWatch alarms of this account publish through it)',
    enableKeyRotation: true,
    // Holds no data at rest (SNS keeps nothing once delivered): deleting the stack schedules its deletion.
    removalPolicy: RemovalPolicy.DESTROY,
    pendingWindow: Duration.days(7),
  });
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'CloudWatchAlarmsPublishToTheEncryptedTopic',
      principals: [cloudwatchService],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
      conditions: thisAccountsAlarms,
    }),
  );
  const topic = new sns.Topic(scope, 'AlarmTopic', { displayName: 'blipline alarms', enforceSSL: true, masterKey: key });
  topic.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'CloudWatchAlarmsPublish',
      principals: [cloudwatchService],
      actions: ['sns:Publish'],
      resources: [topic.topicArn],
      conditions: thisAccountsAlarms,
    }),
  );
  return { topic, key };
}

import { CfnOutput, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwactions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { StackConfigError } from '../errors.js';

/** Result events and webhooks (services/core/result-events.ts, docs/events.md). */
export interface EventsProps {
  /**
   * Publish on the account's default event bus instead of a bus of the stack's own.
   * @default false
   */
  readonly useDefaultBus?: boolean;
  /**
   * The only hosts webhook URLs may name (exact names, or `.example.com` for its subdomains); empty: any public host.
   * Webhooks are https only and never reach private, loopback, link-local or metadata addresses.
   * @default []
   */
  readonly webhookHosts?: string[];
  /**
   * Delivery attempts of a webhook before its job moves to the DLQ (retried with exponential backoff:
   * 60 s, 2, 4, 8 ... min between attempts).
   * @default 8
   */
  readonly webhookAttempts?: number;
}

export interface EventsConstructProps extends EventsProps {
  /** Where the webhook DLQ alarm notifies. */
  readonly alarmTopic: sns.ITopic;
}

/** Visibility of a delivery in work (renewed while it runs): the retry backoff is this · 2^attempt. */
const WEBHOOK_VISIBILITY_SECONDS = 30;

/**
 * The event bus the worker (and the API, for `Image Deleted`) publishes result events on, the webhook delivery queue
 * with its DLQ and alarm, and the webhook signing secret. `attachToWorker` / `attachToApi` give them exactly what
 * they need: `events:PutEvents` on this bus only, the delivery queue, the secret as an ECS secret.
 */
export class Events extends Construct {
  readonly bus: events.IEventBus;
  readonly deliveryQueue: sqs.Queue;
  readonly deliveryDeadLetterQueue: sqs.Queue;
  readonly deadDeliveriesAlarm: cloudwatch.Alarm;
  readonly webhookSecret: secretsmanager.Secret;
  private readonly props: EventsConstructProps;

  constructor(scope: Construct, id: string, props: EventsConstructProps) {
    super(scope, id);
    this.props = props;
    const attempts = props.webhookAttempts ?? 8;
    if (!Number.isInteger(attempts) || attempts < 1 || attempts > 20) throw new StackConfigError(`events.webhookAttempts must be an integer 1..20, got ${attempts}`);
    for (const host of props.webhookHosts ?? []) {
      if (!/^\.?[a-z0-9.-]+$/.test(host)) throw new StackConfigError(`events.webhookHosts: ${JSON.stringify(host)} is not a lower-case host name (or .domain for its subdomains)`);
    }

    this.bus = props.useDefaultBus ? events.EventBus.fromEventBusName(this, 'DefaultBus', 'default') : new events.EventBus(this, 'Bus', { description: 'blipline result events (source "blipline")' });

    this.deliveryDeadLetterQueue = new sqs.Queue(this, 'WebhookDeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.deliveryQueue = new sqs.Queue(this, 'WebhookDeliveries', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(WEBHOOK_VISIBILITY_SECONDS),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deliveryDeadLetterQueue, maxReceiveCount: attempts },
    });
    this.deadDeliveriesAlarm = new cloudwatch.Alarm(this, 'WebhookDeadLettersAlarm', {
      alarmDescription: `Webhook deliveries failed ${attempts} times and reached their DLQ: a receiver is down or refusing. Inspect, then redrive.`,
      metric: this.deliveryDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const notify = new cwactions.SnsAction(props.alarmTopic);
    this.deadDeliveriesAlarm.addAlarmAction(notify);
    this.deadDeliveriesAlarm.addOkAction(notify);

    // 44 letters and digits are valid base64 (33 bytes); the worker reads it with or without the `whsec_` prefix.
    this.webhookSecret = new secretsmanager.Secret(this, 'WebhookSecret', {
      description: 'blipline webhook signing secret (Standard Webhooks; receivers use whsec_<this value>)',
      generateSecretString: { passwordLength: 44, excludePunctuation: true, includeSpace: false, requireEachIncludedType: false },
    });
    Validations.of(this.webhookSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'Every webhook receiver holds this secret to verify signatures; rotating it needs those receivers to take the new one, so it is rotated by hand (put a new value, redeploy the worker).',
    });

    const stack = Stack.of(this);
    new CfnOutput(stack, 'EventBusName', { value: this.bus.eventBusName, description: 'Result events are put here (source "blipline")' });
    new CfnOutput(stack, 'ExampleEventRule', {
      description: 'An EventBridge rule for captions; target it at an SQS queue or a Lambda (docs/events.md)',
      value: stack.toJsonString({
        EventBusName: this.bus.eventBusName,
        EventPattern: { source: ['blipline'], 'detail-type': ['Image Captioned'] },
      }),
    });
    new CfnOutput(stack, 'WebhookDeadLetterQueueUrl', { value: this.deliveryDeadLetterQueue.queueUrl });
    new CfnOutput(stack, 'WebhookSecretArn', { value: this.webhookSecret.secretArn, description: 'The webhook signing secret (receivers verify with whsec_<value>)' });
  }

  private environment(): Record<string, string> {
    return {
      ...(this.props.useDefaultBus ? {} : { BLIPLINE_EVENT_BUS: this.bus.eventBusName }),
      BLIPLINE_WEBHOOK_QUEUE_URL: this.deliveryQueue.queueUrl,
      BLIPLINE_WEBHOOK_ATTEMPTS: String(this.props.webhookAttempts ?? 8),
      BLIPLINE_WEBHOOK_VISIBILITY_SECONDS: String(WEBHOOK_VISIBILITY_SECONDS),
      ...((this.props.webhookHosts ?? []).length > 0 ? { BLIPLINE_WEBHOOK_HOSTS: (this.props.webhookHosts ?? []).join(',') } : {}),
    };
  }

  /** events:PutEvents on this bus only. */
  private grantPutEvents(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['events:PutEvents'], resources: [this.bus.eventBusArn] }));
  }

  /** The worker publishes, enqueues and delivers webhooks, and signs them with the secret. */
  attachToWorker(container: ecs.ContainerDefinition, taskRole: iam.IRole): void {
    for (const [name, value] of Object.entries(this.environment())) container.addEnvironment(name, value);
    // An ECS secret: the container gets the value at start (the execution role may read it); it is never in the template.
    container.addSecret('BLIPLINE_WEBHOOK_SECRET', ecs.Secret.fromSecretsManager(this.webhookSecret));
    this.grantPutEvents(taskRole);
    taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['sqs:SendMessage', 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'],
        resources: [this.deliveryQueue.queueArn],
      }),
    );
  }

  /** The API publishes `Image Deleted`, and accepts webhook URLs when a delivery queue exists (it never sends to it). */
  attachToApi(fn: lambda.Function): void {
    for (const [name, value] of Object.entries(this.environment())) fn.addEnvironment(name, value);
    this.grantPutEvents(fn);
  }
}

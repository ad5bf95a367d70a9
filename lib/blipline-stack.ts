import { CfnOutput, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';
import { Api } from './constructs/api.js';
import { Cache } from './constructs/cache.js';
import { Events } from './constructs/events.js';
import { Monitoring } from './constructs/monitoring.js';
import { Network } from './constructs/network.js';
import { Storage } from './constructs/storage.js';
import { Worker } from './constructs/worker.js';
import { type BliplineStackProps, type ResolvedConfig, resolveConfig } from './config.js';
import { addNagSuppressions } from './nag.js';

/**
 * blipline on AWS: upload bucket → queue → Fargate BLIP workers → table (+ Valkey cache), and the
 * Hono API on Lambda behind an HTTP API. Props are documented in BliplineStackProps.
 */
export class BliplineStack extends Stack {
  readonly config: ResolvedConfig;
  readonly network: Network;
  readonly storage: Storage;
  readonly cache: Cache;
  readonly worker: Worker;
  readonly api: Api;
  readonly monitoring: Monitoring;
  readonly events: Events;
  readonly workerSecurityGroup: ec2.SecurityGroup;
  readonly apiSecurityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: BliplineStackProps = {}) {
    super(scope, id, props);
    this.config = resolveConfig(props);
    const config = this.config;

    this.network = new Network(this, 'Network');
    const { vpc, subnets } = this.network;
    this.workerSecurityGroup = new ec2.SecurityGroup(this, 'WorkerSecurityGroup', {
      vpc,
      description: 'blipline worker tasks (no inbound)',
      allowAllOutbound: true,
    });
    this.apiSecurityGroup = new ec2.SecurityGroup(this, 'ApiSecurityGroup', {
      vpc,
      description: 'blipline API function (no inbound)',
      allowAllOutbound: true,
    });

    this.network.allowClient(this.workerSecurityGroup);
    this.network.allowClient(this.apiSecurityGroup);

    this.storage = new Storage(this, 'Storage', config);
    this.cache = new Cache(this, 'Cache', { vpc, subnets, clients: [this.workerSecurityGroup, this.apiSecurityGroup] });
    const shared = {
      config,
      vpc,
      subnets,
      bucket: this.storage.bucket,
      queue: this.storage.queue,
      table: this.storage.table,
      redisUrl: this.cache.url,
    };
    this.worker = new Worker(this, 'Worker', { ...shared, securityGroup: this.workerSecurityGroup });
    this.api = new Api(this, 'Api', { ...shared, securityGroup: this.apiSecurityGroup });
    this.monitoring = new Monitoring(this, 'Monitoring', {
      config,
      queue: this.storage.queue,
      deadLetterQueue: this.storage.deadLetterQueue,
      worker: this.worker,
      apiHandler: this.api.handler,
    });
    this.events = new Events(this, 'Events', { ...props.events, alarmTopic: this.monitoring.topic });
    this.events.attachToWorker(this.worker.taskDefinition.defaultContainer!, this.worker.taskDefinition.taskRole);
    this.events.attachToApi(this.api.handler);

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL of the API and the upload page' });
    new CfnOutput(this, 'BucketName', { value: this.storage.bucket.bucketName, description: 'Drop images here to caption them' });
    new CfnOutput(this, 'QueueUrl', { value: this.storage.queue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.storage.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'TableName', { value: this.storage.table.tableName });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.monitoring.topic.topicArn });
    new CfnOutput(this, 'DashboardName', { value: this.monitoring.dashboard.dashboardName });

    addNagSuppressions(this);
  }
}

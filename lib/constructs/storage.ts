import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { UPLOAD_PREFIX } from '../../services/core/keys.js';
import type { ResolvedConfig } from '../config.js';

/**
 * Where images and results live: the upload bucket (every ObjectCreated → the queue), the queue and
 * its dead-letter queue, and the one DynamoDB table.
 *
 * Versioning is off on purpose: uploads are transient inputs whose result lives in the table, a
 * re-upload of one key is a new job (the worker orders events by the S3 sequencer), and keeping
 * every overwritten image would cost storage and make deleting a user's image a multi-version job.
 */
export class Storage extends Construct {
  readonly bucket: s3.Bucket;
  readonly accessLogBucket: s3.Bucket;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly table: dynamodb.TableV2;

  constructor(scope: Construct, id: string, config: ResolvedConfig) {
    super(scope, id);
    const removalPolicy = config.dataRemovalPolicy;

    this.accessLogBucket = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(90) }],
      removalPolicy,
    });

    this.bucket = new s3.Bucket(this, 'Images', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: false,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'images/',
      cors: [
        {
          allowedOrigins: config.allowedOrigins,
          allowedMethods: [s3.HttpMethods.PUT, s3.HttpMethods.POST],
          // The signature, not the header list, is what restricts an upload; the SDK's presigner may
          // add checksum headers, so any header may be sent.
          allowedHeaders: ['*'],
          exposedHeaders: ['ETag'],
          maxAge: 3000,
        },
      ],
      lifecycleRules: [
        {
          id: 'abort-incomplete-multipart-uploads',
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
        {
          // API uploads are inputs: once the record expires (TTL) nothing points at them any more.
          id: 'expire-api-uploads',
          prefix: UPLOAD_PREFIX,
          expiration: Duration.days(config.uploadRetentionDays),
        },
      ],
      removalPolicy,
    });

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    this.queue = new sqs.Queue(this, 'Jobs', {
      // SSE-SQS: S3 can publish to it without a customer-managed KMS key policy.
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      receiveMessageWaitTime: Duration.seconds(20),
      visibilityTimeout: Duration.seconds(config.visibilityTimeoutSeconds),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: config.maxReceiveCount },
    });

    // Adds the queue policy statement: only s3.amazonaws.com, only for this bucket's ARN.
    const filters = config.notificationPrefix === '' ? [] : [{ prefix: config.notificationPrefix }];
    this.bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.SqsDestination(this.queue), ...filters);

    this.table = new dynamodb.TableV2(this, 'Records', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      timeToLiveAttribute: 'ttl',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryptionV2.awsManagedKey(),
      removalPolicy: removalPolicy === RemovalPolicy.DESTROY ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
  }
}

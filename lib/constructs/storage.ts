import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { UPLOAD_PREFIX } from '../../services/core/keys.js';
import type { ResolvedConfig } from '../config.js';

/** Request headers a browser may send with a presigned PUT: the signed ones and S3's own. */
export const UPLOAD_CORS_HEADERS = ['content-type', 'if-none-match', 'x-amz-*'] as const;

/**
 * Where images and results live: the upload bucket (ObjectCreated and ObjectRemoved → the job
 * queue), the job queue, the question queue (questions never wait behind captions, and a flood of
 * questions cannot starve captioning: the worker polls both), their dead-letter queues, and the one
 * DynamoDB table.
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
  readonly questionQueue: sqs.Queue;
  readonly questionDeadLetterQueue: sqs.Queue;
  readonly table: dynamodb.TableV2;

  constructor(scope: Construct, id: string, config: ResolvedConfig) {
    super(scope, id);
    const removalPolicy = config.dataRemovalPolicy;

    this.accessLogBucket = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(config.accessLogDays) }],
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
      // CORS: added by allowBrowserUploads once the page's origin is known.
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
        // Objects other writers dropped: S3 filters lifecycle rules by prefix only, so this rule
        // covers the whole bucket; an API upload expires at the earlier of the two.
        ...(config.droppedObjectDays === undefined
          ? []
          : [{ id: 'expire-dropped-objects', expiration: Duration.days(config.droppedObjectDays) }]),
      ],
      removalPolicy,
    });

    // A presigned upload is one-shot: S3 refuses a PUT under uploads/ that does not carry
    // If-None-Match (the API signs `If-None-Match: *`, so a replay of the URL finds the key taken).
    // Multipart uploads carry no conditional header and are refused there too (uploads are one PUT).
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyUploadsWithoutIfNoneMatch',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects(`${UPLOAD_PREFIX}*`)],
        conditions: { Null: { 's3:if-none-match': 'true' } },
      }),
    );

    const [queue, deadLetterQueue] = this.jobQueue('Jobs', 'DeadLetterQueue', config);
    this.queue = queue;
    this.deadLetterQueue = deadLetterQueue;
    const [questionQueue, questionDeadLetterQueue] = this.jobQueue('Questions', 'QuestionsDeadLetterQueue', config);
    this.questionQueue = questionQueue;
    this.questionDeadLetterQueue = questionDeadLetterQueue;

    // Adds the queue policy statement: only s3.amazonaws.com, only for this bucket's ARN. Removals
    // let the worker delete the records of dropped objects that were deleted.
    const filters = config.notificationPrefix === '' ? [] : [{ prefix: config.notificationPrefix }];
    const destination = new s3n.SqsDestination(this.queue);
    this.bucket.addEventNotification(s3.EventType.OBJECT_CREATED, destination, ...filters);
    this.bucket.addEventNotification(s3.EventType.OBJECT_REMOVED, destination, ...filters);

    this.table = new dynamodb.TableV2(this, 'Records', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      timeToLiveAttribute: 'ttl',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryptionV2.awsManagedKey(),
      removalPolicy: removalPolicy === RemovalPolicy.DESTROY ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
  }

  /** Lets browsers on these origins upload with the presigned PUT/POST the API hands out. */
  allowBrowserUploads(origins: string[]): void {
    this.bucket.addCorsRule({
      allowedOrigins: origins,
      allowedMethods: [s3.HttpMethods.PUT, s3.HttpMethods.POST],
      // The signature, not this list, restricts an upload; If-None-Match makes the URL one-shot.
      allowedHeaders: [...UPLOAD_CORS_HEADERS],
      exposedHeaders: ['ETag'],
      maxAge: 3000,
    });
  }

  /** A queue and its dead-letter queue: SSE-SQS (S3 can publish without a KMS key policy), TLS only, long polling. */
  private jobQueue(id: string, deadLetterId: string, config: ResolvedConfig): [sqs.Queue, sqs.Queue] {
    const deadLetterQueue = new sqs.Queue(this, deadLetterId, {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const queue = new sqs.Queue(this, id, {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      receiveMessageWaitTime: Duration.seconds(20),
      visibilityTimeout: Duration.seconds(config.visibilityTimeoutSeconds),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: config.maxReceiveCount },
    });
    return [queue, deadLetterQueue];
  }
}

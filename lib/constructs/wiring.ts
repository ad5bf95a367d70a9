import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { ResolvedConfig } from '../config.js';

/** What a service of the pipeline (the API, the worker) is wired to. */
export interface ServiceWiring {
  readonly config: ResolvedConfig;
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  /** The service's own security group (the cache and the endpoints admit it). */
  readonly securityGroup: ec2.ISecurityGroup;
  readonly bucket: s3.IBucket;
  readonly queue: sqs.IQueue;
  readonly table: dynamodb.ITableV2;
  /** `rediss://host:port` of the cache. */
  readonly redisUrl: string;
}

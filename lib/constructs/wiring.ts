import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { ResolvedConfig } from '../config.js';

/** How the services reach Valkey: URL, RBAC user, key prefix and the password's secret. */
export interface CacheWiring {
  /** `rediss://host:port` of the cache. */
  readonly url: string;
  readonly username: string;
  readonly keyPrefix: string;
  readonly password: secretsmanager.ISecret;
}

/** What a service of the pipeline (the API, the worker) is wired to. */
export interface ServiceWiring {
  readonly config: ResolvedConfig;
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  /** The service's own security group (the cache and the endpoints admit it). */
  readonly securityGroup: ec2.ISecurityGroup;
  readonly bucket: s3.IBucket;
  /** Captioning jobs (S3 events). */
  readonly queue: sqs.IQueue;
  /** Question jobs (the API sends, the worker receives). */
  readonly questionQueue: sqs.IQueue;
  readonly table: dynamodb.ITableV2;
  readonly cache: CacheWiring;
}

/** The Valkey variables both services get (the password travels separately: ECS secret or secret ARN). */
export function cacheEnvironment(cache: CacheWiring): Record<string, string> {
  return {
    BLIPLINE_REDIS_URL: cache.url,
    BLIPLINE_REDIS_USERNAME: cache.username,
    BLIPLINE_REDIS_PREFIX: cache.keyPrefix,
  };
}

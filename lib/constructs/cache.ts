import { Names } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

export interface CacheProps {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  /** Only these security groups may connect. */
  readonly clients: ec2.ISecurityGroup[];
  /** Password of the RBAC user (a plain-string secret). */
  readonly password: secretsmanager.ISecret;
}

/** The RBAC user the services authenticate as, and the key prefix it is limited to. */
export const CACHE_USER = 'blipline';
export const CACHE_KEY_PREFIX = 'blipline:';
/**
 * What the user may do: only keys under the prefix, every command but the dangerous ones
 * (FLUSHALL, KEYS, CONFIG, DEBUG, ...); no pub/sub channels.
 */
export const CACHE_ACCESS_STRING = `on ~${CACHE_KEY_PREFIX}* +@all -@dangerous`;

/** Ports of a serverless cache: the primary endpoint and the reader endpoint. */
export const CACHE_PORTS = [6379, 6380] as const;

/**
 * The hot cache: ElastiCache Serverless for Valkey in the isolated subnets.
 *
 * Why serverless Valkey and not a small node: it is multi-AZ with TLS always on, it bills by data
 * stored (minimum 100 MB, about $6/month) and ECPUs used, so an idle deployment costs less than one
 * cache.t4g.micro node ($12/month, single AZ, no failover). The usage limits cap the bill. The cache
 * is disposable: DynamoDB is the source of truth, so no snapshots are kept.
 *
 * Authentication: RBAC with one password user (`blipline`, access limited to its key prefix and
 * without dangerous commands) in a user group of engine valkey, which holds only password users,
 * so there is no passwordless default user. The password is a Secrets Manager secret that
 * CloudFormation passes to ElastiCache by dynamic reference. TLS is always on for serverless caches.
 */
export class Cache extends Construct {
  readonly securityGroup: ec2.SecurityGroup;
  readonly cache: elasticache.CfnServerlessCache;
  readonly user: elasticache.CfnUser;
  readonly userGroup: elasticache.CfnUserGroup;
  /** `rediss://host:port` for BLIPLINE_REDIS_URL (TLS). */
  readonly url: string;
  readonly username = CACHE_USER;
  readonly keyPrefix = CACHE_KEY_PREFIX;

  constructor(scope: Construct, id: string, props: CacheProps) {
    super(scope, id);
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Valkey: reachable only from the worker and the API',
      allowAllOutbound: false,
    });
    for (const client of props.clients) {
      for (const port of CACHE_PORTS) {
        this.securityGroup.addIngressRule(client, ec2.Port.tcp(port), `Valkey ${port} from ${client.node.id}`);
      }
    }
    const name = (suffix: string) => Names.uniqueResourceName(this, { maxLength: 40 - suffix.length, separator: '-' }).toLowerCase() + suffix;
    this.user = new elasticache.CfnUser(this, 'User', {
      userId: name('-user'),
      userName: CACHE_USER,
      engine: 'valkey',
      accessString: CACHE_ACCESS_STRING,
      authenticationMode: { Type: 'password', Passwords: [props.password.secretValue.unsafeUnwrap()] },
    });
    this.userGroup = new elasticache.CfnUserGroup(this, 'UserGroup', {
      userGroupId: name('-users'),
      engine: 'valkey',
      userIds: [this.user.userId],
    });
    this.userGroup.addResourceDependency(this.user);
    const subnetIds = props.vpc.selectSubnets(props.subnets).subnetIds;
    this.cache = new elasticache.CfnServerlessCache(this, 'Valkey', {
      serverlessCacheName: Names.uniqueResourceName(this, { maxLength: 40, separator: '-' }).toLowerCase(),
      engine: 'valkey',
      majorEngineVersion: '8',
      description: 'blipline caption cache',
      subnetIds,
      securityGroupIds: [this.securityGroup.securityGroupId],
      cacheUsageLimits: {
        dataStorage: { maximum: 1, unit: 'GB' },
        ecpuPerSecond: { maximum: 5000 },
      },
      snapshotRetentionLimit: 0,
      userGroupId: this.userGroup.userGroupId,
    });
    this.cache.addResourceDependency(this.userGroup);
    this.url = `rediss://${this.cache.attrEndpointAddress}:${this.cache.attrEndpointPort}`;
  }
}

import { CfnOutput, Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';
import { Api } from './constructs/api.js';
import { CACHE_PORTS, Cache } from './constructs/cache.js';
import { Edge } from './constructs/edge.js';
import { Events } from './constructs/events.js';
import { TABLE_ITEM_ACTIONS } from './constructs/grants.js';
import { Identity } from './constructs/identity.js';
import { Monitoring } from './constructs/monitoring.js';
import { Network } from './constructs/network.js';
import { Secrets } from './constructs/secrets.js';
import { Storage } from './constructs/storage.js';
import { WebAcl } from './constructs/web-acl.js';
import { Worker } from './constructs/worker.js';
import { type BliplineStackProps, type ResolvedConfig, resolveConfig } from './config.js';
import { EdgeWafStack } from './edge-waf-stack.js';
import { StackConfigError } from './errors.js';
import { addNagSuppressions } from './nag.js';

/** The region AWS requires for web ACLs of scope CLOUDFRONT. */
const WAF_REGION = 'us-east-1';

/**
 * blipline on AWS: upload bucket → queues → Fargate BLIP workers → table (+ Valkey cache), the
 * Hono API on Lambda behind an HTTP API with a JWT authorizer (Cognito or another OIDC issuer), and
 * CloudFront + WAF in front of the page and the API. Props are documented in BliplineStackProps.
 */
export class BliplineStack extends Stack {
  readonly config: ResolvedConfig;
  readonly network: Network;
  readonly storage: Storage;
  readonly secrets: Secrets;
  readonly cache: Cache;
  readonly worker: Worker;
  readonly api: Api;
  readonly identity: Identity | undefined;
  readonly edge: Edge | undefined;
  /** The web ACL when it lives in this stack (stack in us-east-1). */
  readonly webAcl: WebAcl | undefined;
  /** The companion stack holding the web ACL when this stack is in another region. */
  readonly edgeWafStack: EdgeWafStack | undefined;
  readonly monitoring: Monitoring;
  readonly events: Events;
  readonly workerSecurityGroup: ec2.SecurityGroup;
  readonly apiSecurityGroup: ec2.SecurityGroup;
  /** The page's URL (`https://host/`), where browsers go. */
  readonly pageUrl: string;

  constructor(scope: Construct, id: string, props: BliplineStackProps = {}) {
    super(scope, id, props);
    this.config = resolveConfig(props);
    const config = this.config;

    // The API checks tokens against the issuer's keys, which live on the internet.
    const apiEgress = config.identity.mode !== 'anonymous';
    this.network = new Network(this, 'Network', { apiEgress });
    const { vpc, subnets } = this.network;
    this.workerSecurityGroup = new ec2.SecurityGroup(this, 'WorkerSecurityGroup', {
      vpc,
      description: 'blipline worker tasks (no inbound)',
      allowAllOutbound: true,
    });
    this.apiSecurityGroup = new ec2.SecurityGroup(this, 'ApiSecurityGroup', {
      vpc,
      description: 'blipline API function (no inbound; out: HTTPS and Valkey)',
      allowAllOutbound: false,
    });
    // AWS endpoints and the token issuer's keys: HTTPS only.
    this.apiSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS: AWS endpoints and the token issuer');

    this.network.allowClient(this.workerSecurityGroup);
    this.network.allowClient(this.apiSecurityGroup);

    this.storage = new Storage(this, 'Storage', config);
    this.secrets = new Secrets(this, 'Secrets', { originVerify: config.edge.enabled });
    this.cache = new Cache(this, 'Cache', {
      vpc,
      subnets,
      clients: [this.workerSecurityGroup, this.apiSecurityGroup],
      password: this.secrets.redisPassword,
    });
    for (const port of CACHE_PORTS) {
      this.apiSecurityGroup.addEgressRule(this.cache.securityGroup, ec2.Port.tcp(port), `Valkey ${port}`);
    }
    const shared = {
      config,
      vpc,
      subnets,
      bucket: this.storage.bucket,
      queue: this.storage.queue,
      questionQueue: this.storage.questionQueue,
      table: this.storage.table,
      cache: { url: this.cache.url, username: this.cache.username, keyPrefix: this.cache.keyPrefix, password: this.secrets.redisPassword },
    };
    this.worker = new Worker(this, 'Worker', { ...shared, securityGroup: this.workerSecurityGroup, objectIdSecret: this.secrets.objectIdSecret });
    this.api = new Api(this, 'Api', { ...shared, subnets: this.network.apiSubnets, securityGroup: this.apiSecurityGroup });

    // Who signs in (the page's client comes once the page URL is known).
    this.identity =
      config.identity.mode === 'anonymous' ? undefined : new Identity(this, 'Identity', { identity: config.identity, removalPolicy: config.dataRemovalPolicy });

    // ---- Edge: CloudFront + WAF, or the API's own endpoint ----
    if (config.edge.enabled) {
      const originVerify = this.secrets.originVerify;
      if (originVerify === undefined) throw new StackConfigError('the origin-verify secret is missing while the edge is on');
      const waf = this.webAclFor(id, props);
      this.webAcl = waf.webAcl;
      this.edgeWafStack = waf.edgeWafStack;
      this.edge = new Edge(this, 'Edge', {
        edge: config.edge,
        apiOriginDomain: this.api.originDomain,
        originVerify,
        webAclArn: waf.arn,
        connectOrigins: this.identity?.connectOrigins ?? [],
        accessLogBucket: this.storage.accessLogBucket,
        logDays: config.accessLogDays,
        removalPolicy: config.dataRemovalPolicy,
      });
      this.pageUrl = `${this.edge.origin}/`;
      // Direct calls to the API (bypassing CloudFront and WAF) are refused by the app.
      this.api.handler.addEnvironment('BLIPLINE_ORIGIN_VERIFY_SECRET', originVerify.secretValue.unsafeUnwrap());
    } else {
      this.edge = undefined;
      this.webAcl = undefined;
      this.edgeWafStack = undefined;
      this.pageUrl = this.api.url;
    }
    const pageOrigin = this.pageUrl.replace(/\/$/, '');

    // ---- The routes: JWT authorizer on all but the open ones (none in anonymous mode) ----
    const trusted = this.identity?.trust(this.pageUrl);
    this.api.addRoutes(
      trusted === undefined ? undefined : { ...trusted, userScope: config.identity.userScope, operatorScope: config.identity.operatorScope },
    );

    const origins = [pageOrigin, ...config.allowedOrigins.filter((o) => o !== pageOrigin)];
    this.storage.allowBrowserUploads(origins);
    this.api.handler.addEnvironment('BLIPLINE_ALLOWED_ORIGINS', origins.join(','));

    this.network.restrictTo({
      bucketArn: this.storage.bucket.bucketArn,
      queueArns: [this.storage.queue.queueArn, this.storage.questionQueue.queueArn],
      tableArn: this.storage.table.tableArn,
      tableActions: TABLE_ITEM_ACTIONS,
      secretArns: this.secrets.runtimeSecrets.map((s) => s.secretArn),
      repositoryArn: this.worker.image.repository.repositoryArn,
      logGroupArns: [this.worker.logGroup.logGroupArn],
    });

    this.monitoring = new Monitoring(this, 'Monitoring', {
      config,
      queue: this.storage.queue,
      deadLetterQueue: this.storage.deadLetterQueue,
      questionDeadLetterQueue: this.storage.questionDeadLetterQueue,
      worker: this.worker,
      apiHandler: this.api.handler,
    });
    this.events = new Events(this, 'Events', { ...props.events, alarmTopic: this.monitoring.topic });
    this.events.attachToWorker(this.worker.taskDefinition.defaultContainer!, this.worker.taskDefinition.taskRole);
    this.events.attachToApi(this.api.handler);

    new CfnOutput(this, 'ApiUrl', { value: this.pageUrl, description: 'The upload page and the API' });
    if (this.edge !== undefined) {
      new CfnOutput(this, 'DistributionDomainName', {
        value: this.edge.distribution.distributionDomainName,
        description: 'Point edge.domain here (CNAME, or a Route 53 alias to the distribution)',
      });
    }
    new CfnOutput(this, 'BucketName', { value: this.storage.bucket.bucketName, description: 'Drop images here to caption them' });
    new CfnOutput(this, 'QueueUrl', { value: this.storage.queue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.storage.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'QuestionQueueUrl', { value: this.storage.questionQueue.queueUrl });
    new CfnOutput(this, 'QuestionDeadLetterQueueUrl', { value: this.storage.questionDeadLetterQueue.queueUrl });
    new CfnOutput(this, 'TableName', { value: this.storage.table.tableName });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.monitoring.topic.topicArn });
    new CfnOutput(this, 'DashboardName', { value: this.monitoring.dashboard.dashboardName });

    addNagSuppressions(this);
  }

  /**
   * Where the CloudFront web ACL comes from: the edge.webAclArn prop; else one made in this stack
   * when it is in us-east-1; else one made in a companion stack `<id>-Edge` in us-east-1, read here
   * through a cross-region reference (both stacks need a concrete region for that).
   */
  private webAclFor(id: string, props: BliplineStackProps): { arn: string; webAcl?: WebAcl; edgeWafStack?: EdgeWafStack } {
    const edge = this.config.edge;
    if (edge.webAclArn !== undefined) return { arn: edge.webAclArn };
    if (this.region === WAF_REGION) {
      const webAcl = new WebAcl(this, 'WebAcl', { rateLimitPer5Minutes: edge.rateLimitPer5Minutes });
      return { arn: webAcl.arn, webAcl };
    }
    if (Token.isUnresolved(this.region)) {
      throw new StackConfigError(
        "the edge's WAF web ACL must be made in us-east-1 and this stack has no region; give the stack env: { region } " +
          "(bin/cdk.ts: -c region=eu-west-1, else CDK_DEFAULT_REGION, else us-east-1), or pass edge.webAclArn, or turn the edge off with edge: { enabled: false }",
      );
    }
    const scope = this.node.scope;
    if (scope === undefined) throw new StackConfigError('the stack needs a parent (the CDK app) for its us-east-1 companion stack');
    const edgeWafStack = new EdgeWafStack(scope, `${id}-Edge`, {
      env: { account: props.env?.account, region: WAF_REGION },
      description: `blipline: CloudFront web ACL of ${this.stackName} (AWS requires us-east-1)`,
      rateLimitPer5Minutes: edge.rateLimitPer5Minutes,
      crossRegionReferences: true,
    });
    // The cross-region reference makes this stack depend on the companion (deployed first).
    return { arn: edgeWafStack.webAcl.arn, edgeWafStack };
  }
}

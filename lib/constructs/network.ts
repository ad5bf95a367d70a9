import { Aws } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** What the endpoints may be used for: the stack's own resources and nothing else. */
export interface EndpointScope {
  /** S3 actions on the bucket and its objects. */
  readonly bucketArn: string;
  /** SQS actions on these queues. */
  readonly queueArns: string[];
  /** DynamoDB item actions on this table. */
  readonly tableArn: string;
  readonly tableActions: readonly string[];
  /** secretsmanager:GetSecretValue on these secrets. */
  readonly secretArns: string[];
  /** Image pulls from this ECR repository. */
  readonly repositoryArn: string;
  /** Log writes to these log groups (`...:log-group:name:*`). */
  readonly logGroupArns: string[];
}

export interface NetworkProps {
  /**
   * Give the API function a way out to the internet (a NAT gateway for its own subnets): it must
   * fetch the token issuer's signing keys (JWKS), and neither Cognito user pools with a sign-in
   * domain nor other issuers can be reached through a VPC endpoint.
   */
  readonly apiEgress: boolean;
}

/** Actions of the queues' producers and consumers (the API sends questions; the worker receives both queues). */
export const QUEUE_ACTIONS = ['sqs:SendMessage', 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'] as const;
/** Object actions through the S3 gateway: the worker reads, the API deletes (uploads go from browsers straight to S3, not through the VPC). */
export const BUCKET_OBJECT_ACTIONS = ['s3:GetObject', 's3:DeleteObject'] as const;

/**
 * A VPC whose worker and cache have no internet route: two AZs of isolated subnets; S3 and DynamoDB
 * through free gateway endpoints; SQS, ECR (API + Docker), CloudWatch Logs and Secrets Manager
 * through interface endpoints.
 *
 * The API function alone (when tokens are checked) runs in subnets of its own whose route leads to
 * one NAT gateway: it fetches the issuer's signing keys (JWKS) from the internet, which no VPC
 * endpoint serves (Cognito's PrivateLink endpoint refuses user pools that have a sign-in domain).
 * One NAT gateway ($33/month) in one AZ: if that AZ fails, warm functions keep their cached keys and
 * new ones fail closed (401) until it is back. The function's security group lets out only HTTPS and
 * Valkey. Everything AWS still goes through the endpoints (private DNS), not the NAT.
 *
 * Why endpoints and not a NAT gateway (us-east-1 list prices): 4 interface endpoints × 2 AZs cost
 * about 8 × $7.30 = $58/month plus $0.01/GB; one NAT gateway costs $33/month plus $0.045/GB and is a
 * single-AZ point of failure (two cost $66/month). Every task start pulls the worker image (about
 * 1 GB with the models) from ECR, so pulls are 4.5× cheaper through endpoints, the price is close to
 * a highly available NAT pair, and the worker cannot reach the internet at all.
 *
 * Secrets Manager has an endpoint too: Fargate fetches the worker's ECS secrets through it and the
 * API reads the Valkey password at cold start. Every endpoint has a policy (restrictTo) that admits
 * only the stack's own bucket, queues, table, secrets, repository and log groups, so a compromised
 * task cannot use them to reach other resources of the account (or another account's bucket).
 */
export class Network extends Construct {
  readonly vpc: ec2.Vpc;
  /** The worker's and the cache's subnets (no internet route); the interface endpoints live here. */
  readonly subnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
  /** The API function's subnets: with apiEgress, its own subnets behind the NAT gateway; else the isolated ones. */
  readonly apiSubnets: ec2.SubnetSelection;
  readonly endpointSecurityGroup: ec2.SecurityGroup;
  readonly s3Endpoint: ec2.GatewayVpcEndpoint;
  readonly dynamoDbEndpoint: ec2.GatewayVpcEndpoint;
  readonly interfaceEndpoints: Record<'Sqs' | 'EcrApi' | 'EcrDocker' | 'Logs' | 'SecretsManager', ec2.InterfaceVpcEndpoint>;

  /** Lets `client` reach the interface endpoints (HTTPS). */
  allowClient(client: ec2.ISecurityGroup): void {
    this.endpointSecurityGroup.addIngressRule(client, ec2.Port.tcp(443), `HTTPS from ${client.node.id}`);
  }

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    // Subnet groups are allocated in order: the isolated ones keep their ranges with or without the others.
    const egress: ec2.SubnetConfiguration[] = props.apiEgress
      ? [
          { name: 'nat', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 28, mapPublicIpOnLaunch: false },
          { name: 'api', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 24 },
        ]
      : [];
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: props.apiEgress ? 1 : 0,
      subnetConfiguration: [{ name: 'private', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 22 }, ...egress],
    });
    this.apiSubnets = props.apiEgress ? { subnetGroupName: 'api' } : this.subnets;
    // The same construct ids the Vpc's gatewayEndpoints option gave them (logical ids unchanged).
    this.s3Endpoint = this.vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3 });
    this.dynamoDbEndpoint = this.vpc.addGatewayEndpoint('DynamoDB', { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB });

    const flowLogs = new logs.LogGroup(this, 'FlowLogs', { retention: logs.RetentionDays.ONE_MONTH });
    this.vpc.addFlowLog('RejectedTraffic', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs),
      trafficType: ec2.FlowLogTrafficType.REJECT,
      maxAggregationInterval: ec2.FlowLogMaxAggregationInterval.TEN_MINUTES,
    });

    this.endpointSecurityGroup = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
      vpc: this.vpc,
      description: 'Interface endpoints: HTTPS from the worker and the API only (allowClient)',
      allowAllOutbound: false,
    });

    const endpoint = (name: string, service: ec2.InterfaceVpcEndpointAwsService) =>
      this.vpc.addInterfaceEndpoint(name, {
        service,
        subnets: this.subnets,
        privateDnsEnabled: true,
        securityGroups: [this.endpointSecurityGroup],
        open: false,
      });
    this.interfaceEndpoints = {
      Sqs: endpoint('Sqs', ec2.InterfaceVpcEndpointAwsService.SQS),
      EcrApi: endpoint('EcrApi', ec2.InterfaceVpcEndpointAwsService.ECR),
      EcrDocker: endpoint('EcrDocker', ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER),
      Logs: endpoint('Logs', ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS),
      SecretsManager: endpoint('SecretsManager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER),
    };
  }

  /**
   * Endpoint policies: each endpoint admits only the stack's own resources (any principal of the
   * VPC; IAM still decides who may do what). Without a policy an endpoint admits everything.
   */
  restrictTo(scope: EndpointScope): void {
    const allow = (actions: readonly string[], resources: string[]) =>
      new iam.PolicyStatement({ principals: [new iam.AnyPrincipal()], actions: [...actions], resources });

    this.s3Endpoint.addToPolicy(allow(BUCKET_OBJECT_ACTIONS, [`${scope.bucketArn}/*`]));
    this.s3Endpoint.addToPolicy(allow(['s3:ListBucket'], [scope.bucketArn]));
    // ECR keeps image layers in this AWS-owned bucket; task starts download them through S3.
    this.s3Endpoint.addToPolicy(allow(['s3:GetObject'], [`arn:${Aws.PARTITION}:s3:::prod-${Aws.REGION}-starport-layer-bucket/*`]));

    this.dynamoDbEndpoint.addToPolicy(allow(scope.tableActions, [scope.tableArn]));

    const e = this.interfaceEndpoints;
    e.Sqs.addToPolicy(allow(QUEUE_ACTIONS, scope.queueArns));
    e.SecretsManager.addToPolicy(allow(['secretsmanager:GetSecretValue'], scope.secretArns));
    e.Logs.addToPolicy(allow(['logs:CreateLogStream', 'logs:PutLogEvents'], scope.logGroupArns));
    for (const ecr of [e.EcrApi, e.EcrDocker]) {
      // GetAuthorizationToken has no resource-level permissions: it is allowed on * by design.
      ecr.addToPolicy(allow(['ecr:GetAuthorizationToken'], ['*']));
      ecr.addToPolicy(allow(['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'], [scope.repositoryArn]));
    }
  }
}

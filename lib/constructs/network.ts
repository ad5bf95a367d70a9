import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/**
 * A VPC with no internet route: two AZs of isolated subnets; S3 and DynamoDB through free gateway
 * endpoints; SQS, ECR (API + Docker) and CloudWatch Logs through interface endpoints.
 *
 * Why endpoints and not a NAT gateway (us-east-1 list prices): 4 interface endpoints × 2 AZs cost
 * about 8 × $7.30 = $58/month plus $0.01/GB; one NAT gateway costs $33/month plus $0.045/GB and is a
 * single-AZ point of failure (two cost $66/month). Every task start pulls the worker image (about
 * 1 GB with the models) from ECR, so pulls are 4.5× cheaper through endpoints, the price is close to
 * a highly available NAT pair, and nothing in the VPC can reach the internet at all.
 */
export class Network extends Construct {
  readonly vpc: ec2.Vpc;
  readonly subnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
  readonly endpointSecurityGroup: ec2.SecurityGroup;

  /** Lets `client` reach the interface endpoints (HTTPS). */
  allowClient(client: ec2.ISecurityGroup): void {
    this.endpointSecurityGroup.addIngressRule(client, ec2.Port.tcp(443), `HTTPS from ${client.node.id}`);
  }

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'private', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 22 }],
      gatewayEndpoints: {
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
    });

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

    const interfaceEndpoints: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
      Sqs: ec2.InterfaceVpcEndpointAwsService.SQS,
      EcrApi: ec2.InterfaceVpcEndpointAwsService.ECR,
      EcrDocker: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
      Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    };
    for (const [name, service] of Object.entries(interfaceEndpoints)) {
      this.vpc.addInterfaceEndpoint(name, {
        service,
        subnets: this.subnets,
        privateDnsEnabled: true,
        securityGroups: [this.endpointSecurityGroup],
        open: false,
      });
    }
  }
}

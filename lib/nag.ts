import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { BliplineStack } from './blipline-stack.js';

const LAMBDA_BASIC = 'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole';
const LAMBDA_VPC = 'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole';

/** The CloudFormation logical id token of a resource, as cdk-nag prints it in findings. */
function arnToken(construct: IConstruct): string {
  const stack = Stack.of(construct);
  const child = construct.node.defaultChild ?? construct;
  return `<${stack.getLogicalId(child as never)}.Arn>`;
}

/**
 * cdk-nag (AwsSolutions) acknowledgments. Each one names the exact finding and says why it does
 * not apply; anything not listed here fails `cdk synth`.
 */
export function addNagSuppressions(stack: BliplineStack): void {
  const bucketArn = arnToken(stack.storage.bucket);

  // ---- API function ----
  const apiRole = stack.api.handler.role;
  if (apiRole !== undefined) {
    Validations.of(apiRole).acknowledge(
      {
        id: `AwsSolutions-IAM4[${LAMBDA_BASIC}]`,
        reason: 'AWSLambdaBasicExecutionRole grants only logs:CreateLogGroup, CreateLogStream and PutLogEvents, which is exactly what the function needs to write its logs.',
      },
      {
        id: `AwsSolutions-IAM4[${LAMBDA_VPC}]`,
        reason: 'AWSLambdaVPCAccessExecutionRole grants only the ENI actions Lambda needs to attach the function to the VPC (to reach Valkey).',
      },
      {
        id: `AwsSolutions-IAM5[Resource::${bucketArn}/uploads/*]`,
        reason: 'Presigned uploads write to server-generated keys uploads/<imageId>; the wildcard is the uploads/ prefix of this one bucket and the only action is s3:PutObject.',
      },
    );
  }
  Validations.of(stack.api.handler).acknowledge({
    id: 'AwsSolutions-L1',
    reason: 'The function runs Node 22, the release the project develops, tests and pins (the `node` dev dependency); a runtime move is a project-wide decision.',
  });
  Validations.of(stack.api.httpApi).acknowledge({
    id: 'AwsSolutions-APIG4',
    reason: 'A public API by design: anonymous browsers ask for presigned uploads and read statuses of unguessable UUIDv7 ids; abuse is bounded by stage throttling, the size/type limits signed into each upload and short URL lifetimes.',
  });

  // ---- Worker ----
  Validations.of(stack.worker.taskDefinition).acknowledge({
    id: 'AwsSolutions-ECS2',
    reason: 'The environment holds only resource names, URLs and model paths, no secrets (Valkey is reached over TLS inside the VPC with no password); changing them is a deployment anyway.',
  });
  Validations.of(stack.worker.taskDefinition.taskRole).acknowledge({
    id: `AwsSolutions-IAM5[Resource::${bucketArn}/*]`,
    reason: 'The worker captions any object dropped into the bucket, so it may s3:GetObject every key of this one bucket (read-only, no other action).',
  });
  const executionRole = stack.worker.taskDefinition.executionRole;
  if (executionRole !== undefined) {
    Validations.of(executionRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken has no resource-level permissions and must be granted on *; the image pull and log actions are scoped to the asset repository and the log group.',
    });
  }

  // ---- CDK's bucket-notification custom resource (configures S3 → SQS at deploy time) ----
  const notificationsHandler = stack.node.children.find((c) => c.node.id.startsWith('BucketNotificationsHandler'));
  if (notificationsHandler !== undefined) {
    Validations.of(notificationsHandler).acknowledge(
      {
        id: `AwsSolutions-IAM4[${LAMBDA_BASIC}]`,
        reason: 'CDK-provided deploy-time handler that sets the bucket notification; the managed policy only lets it write its logs.',
      },
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'CDK-provided deploy-time handler: s3:PutBucketNotification is granted on * by aws-cdk-lib and runs only during deployments.',
      },
    );
  }
}

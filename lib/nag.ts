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

/** What bounds the request rate, as a clause for the reasons below. */
function rateLimits(stack: BliplineStack): string {
  return stack.edge !== undefined ? ', WAF limits requests per IP and stage throttling bounds the total' : ' and stage throttling bounds the total request rate';
}

/** Open routes by design (the rest have the JWT authorizer); in anonymous mode every route is open. */
function acknowledgeOpenRoutes(stack: BliplineStack): void {
  const reason =
    stack.config.identity.mode === 'anonymous'
      ? `Anonymous mode was asked for in words (auth.mode anonymous and allowAnonymous: true) for a private demo: no route has an authorizer, quotas count per source IP${rateLimits(stack)}.`
      : 'Open by design: health check, the page and its static files, the sign-in settings the page needs before it has a token (GET /v1/config), the OpenAPI description and CORS preflights; no route that reads or changes data is open.';
  for (const route of stack.api.routes) {
    const cfn = route.node.defaultChild as { authorizationType?: string } | undefined;
    if (cfn?.authorizationType === 'JWT') continue;
    Validations.of(route).acknowledge({ id: 'AwsSolutions-APIG4', reason });
  }
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
      {
        id: `AwsSolutions-IAM5[Resource::${bucketArn}/*]`,
        reason: 'DELETE /v1/images/{id} removes the image object: an upload under uploads/, or for the operator scope a dropped object at any key of this one bucket; the only action on the wildcard is s3:DeleteObject and the app checks ownership first.',
      },
    );
  }
  Validations.of(stack.api.handler).acknowledge({
    id: 'AwsSolutions-L1',
    reason: 'The function runs Node 22, the release the project develops, tests and pins (the `node` dev dependency); a runtime move is a project-wide decision.',
  });
  acknowledgeOpenRoutes(stack);

  // ---- Identity ----
  const userPool = stack.identity?.userPool;
  const cognito = stack.config.identity.cognito;
  if (userPool !== undefined && cognito !== undefined) {
    const signUp = cognito.selfSignUp ? 'anyone may sign up (auth.selfSignUp)' : 'sign-up is closed (administrators invite users)';
    const mfa = { required: 'MFA with an authenticator app is required', optional: 'MFA with an authenticator app is optional', off: 'MFA is off' }[cognito.mfa];
    if (!cognito.threatProtection) {
      Validations.of(userPool).acknowledge({
        id: 'AwsSolutions-COG8',
        reason: `Threat protection needs the Plus feature plan, billed per monthly active user; it is one prop away (auth.threatProtection). As deployed: ${signUp}, ${mfa}, passwords need 12 characters of four kinds${rateLimits(stack)}.`,
      });
    }
    if (cognito.mfa !== 'required') {
      Validations.of(userPool).acknowledge({
        id: 'AwsSolutions-COG2',
        reason: `MFA is ${cognito.mfa} because the deployer set auth.mfa to '${cognito.mfa}' (the default is 'required'); sign-in still needs a 12-character password of four kinds${rateLimits(stack)}.`,
      });
    }
  }

  // ---- Secrets ----
  const secrets = stack.secrets;
  Validations.of(secrets.objectIdSecret).acknowledge({
    id: 'AwsSolutions-SMG4',
    reason: 'This HMAC key defines the image ids of dropped objects: rotating it would change every such id and orphan their records, so it must stay fixed for the life of the data; only the worker task reads it.',
  });
  Validations.of(secrets.redisPassword).acknowledge({
    id: 'AwsSolutions-SMG4',
    reason: 'The Valkey user is only reachable inside the VPC, from the worker and API security groups, over TLS; automatic rotation would need a rotation function in the VPC that updates the ElastiCache user and restarts both services. To rotate, change the secret and redeploy (CloudFormation resolves the new password into the user).',
  });
  if (secrets.originVerify !== undefined) {
    Validations.of(secrets.originVerify).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'The origin header only proves a request came through CloudFront (WAF); CloudFormation passes it to the distribution and the function by dynamic reference, so it changes only with a deployment: change the secret and redeploy to rotate it.',
    });
  }

  // ---- Edge ----
  const distribution = stack.edge?.distribution;
  if (distribution !== undefined) {
    Validations.of(distribution).acknowledge({
      id: 'AwsSolutions-CFR1',
      reason: 'blipline serves the users its operator admits, wherever they are; nothing in it is restricted by country, and WAF rate-limits every source IP.',
    });
    if (stack.config.edge.domain === undefined) {
      Validations.of(distribution).acknowledge({
        id: 'AwsSolutions-CFR4',
        reason: "Without edge.domain the distribution uses CloudFront's *.cloudfront.net certificate, whose security policy CloudFront fixes at TLSv1; browsers negotiate TLS 1.2/1.3 anyway. Setting edge.domain (with a us-east-1 certificate) enforces TLSv1.2_2021.",
      });
    }
  }

  // ---- Worker ----
  Validations.of(stack.worker.taskDefinition).acknowledge({
    id: 'AwsSolutions-ECS2',
    reason: 'The environment holds only resource names, URLs, the Valkey user name and model paths; the Valkey password and the object-id HMAC key come from Secrets Manager as ECS secrets, never from the environment list.',
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

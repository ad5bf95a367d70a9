import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { WebAcl } from './constructs/web-acl.js';

export interface EdgeWafStackProps extends StackProps {
  readonly rateLimitPer5Minutes: number;
}

/**
 * The companion stack in us-east-1 holding only CloudFront's web ACL (AWS accepts web ACLs of
 * scope CLOUDFRONT in no other region). The main stack reads its ARN through a cross-region
 * reference; deploy both with `cdk deploy --all` (CDK deploys this one first).
 */
export class EdgeWafStack extends Stack {
  readonly webAcl: WebAcl;

  constructor(scope: Construct, id: string, props: EdgeWafStackProps) {
    super(scope, id, props);
    this.webAcl = new WebAcl(this, 'WebAcl', { rateLimitPer5Minutes: props.rateLimitPer5Minutes });
  }
}

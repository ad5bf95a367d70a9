import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

export interface WebAclProps {
  /** Requests one IP may make in any 5 minutes before it is blocked. */
  readonly rateLimitPer5Minutes: number;
}

const visibility = (metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
  cloudWatchMetricsEnabled: true,
  metricName,
  sampledRequestsEnabled: true,
});

const managed = (name: string, priority: number): wafv2.CfnWebACL.RuleProperty => ({
  name,
  priority,
  overrideAction: { none: {} },
  statement: { managedRuleGroupStatement: { vendorName: 'AWS', name } },
  visibilityConfig: visibility(name),
});

/**
 * The AWS WAF web ACL in front of CloudFront (scope CLOUDFRONT, which AWS only accepts in
 * us-east-1): a rate-based rule per source IP, then AWS's managed common rule set (OWASP-style
 * checks: bad paths, oversized bodies, missing user agents, ...) and known bad inputs (Log4j-style
 * exploits). Everything else is allowed through to the API, which checks tokens itself.
 */
export class WebAcl extends Construct {
  readonly acl: wafv2.CfnWebACL;

  constructor(scope: Construct, id: string, props: WebAclProps) {
    super(scope, id);
    this.acl = new wafv2.CfnWebACL(this, 'Acl', {
      scope: 'CLOUDFRONT',
      description: 'blipline edge: rate limit per IP and AWS managed rules',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('blipline-edge'),
      rules: [
        {
          name: 'RateLimitPerIp',
          priority: 0,
          action: { block: {} },
          statement: { rateBasedStatement: { limit: props.rateLimitPer5Minutes, aggregateKeyType: 'IP', evaluationWindowSec: 300 } },
          visibilityConfig: visibility('RateLimitPerIp'),
        },
        managed('AWSManagedRulesCommonRuleSet', 1),
        managed('AWSManagedRulesKnownBadInputsRuleSet', 2),
      ],
    });
  }

  get arn(): string {
    return this.acl.attrArn;
  }
}

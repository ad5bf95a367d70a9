import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resourcesOf, type Synthesized, synthBlipline } from './support.js';

let s: Synthesized;
beforeAll(() => {
  s = synthBlipline({ bundling: false, props: { alarmEmail: 'ops@example.com' } });
});
afterAll(() => {
  rmSync(s.outdir, { recursive: true, force: true });
});

interface Statement {
  Sid?: string;
  Effect: string;
  Principal?: unknown;
  Action: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

const only = <T>(items: T[], what: string): T => {
  expect(items, what).toHaveLength(1);
  return items[0] as T;
};

describe('alarm topic', () => {
  it('is encrypted with a customer-managed, rotated key', () => {
    const [, topic] = only(resourcesOf(s.json, 'AWS::SNS::Topic').filter(([id]) => id.includes('AlarmTopic')), 'alarm topic');
    const [keyId, key] = only(resourcesOf(s.json, 'AWS::KMS::Key').filter(([id]) => id.includes('AlarmTopicKey')), 'alarm topic key');
    expect(topic.Properties?.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    expect(key.Properties?.EnableKeyRotation).toBe(true);
  });

  it("lets CloudWatch use the key for this account's alarms only", () => {
    const [, key] = only(resourcesOf(s.json, 'AWS::KMS::Key').filter(([id]) => id.includes('AlarmTopicKey')), 'alarm topic key');
    const statements = (key.Properties?.KeyPolicy as { Statement: Statement[] }).Statement;
    const cloudwatch = only(statements.filter((st) => JSON.stringify(st.Principal).includes('cloudwatch.amazonaws.com')), 'CloudWatch key statement');
    expect(cloudwatch.Effect).toBe('Allow');
    expect([cloudwatch.Action].flat().sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*']);
    expect(cloudwatch.Condition?.StringEquals?.['aws:SourceAccount']).toEqual({ Ref: 'AWS::AccountId' });
    expect(JSON.stringify(cloudwatch.Condition?.ArnLike?.['aws:SourceArn'])).toContain(':cloudwatch:');
  });

  it('keeps the TLS-only Deny and allows CloudWatch to publish, conditioned on this account and its alarms', () => {
    const [topicId] = only(resourcesOf(s.json, 'AWS::SNS::Topic').filter(([id]) => id.includes('AlarmTopic')), 'alarm topic');
    const policies = resourcesOf(s.json, 'AWS::SNS::TopicPolicy').filter(([, p]) => JSON.stringify(p.Properties?.Topics).includes(topicId));
    const [, policy] = only(policies, 'alarm topic policy');
    const statements = (policy.Properties?.PolicyDocument as { Statement: Statement[] }).Statement;

    const deny = only(statements.filter((st) => st.Effect === 'Deny'), 'Deny statement');
    expect(deny.Condition?.Bool?.['aws:SecureTransport']).toBe('false');

    const allow = only(statements.filter((st) => st.Effect === 'Allow'), 'Allow statement');
    expect(allow.Principal).toEqual({ Service: 'cloudwatch.amazonaws.com' });
    expect(allow.Action).toBe('sns:Publish');
    expect(allow.Condition?.StringEquals?.['aws:SourceAccount']).toEqual({ Ref: 'AWS::AccountId' });
    const sourceArn = JSON.stringify(allow.Condition?.ArnLike?.['aws:SourceArn']);
    expect(sourceArn).toContain(':cloudwatch:');
    expect(sourceArn).toContain(':alarm:*');
    expect(sourceArn).toContain('AWS::AccountId');
  });

  it('subscribes the configured e-mail address and every alarm notifies the topic', () => {
    const [topicId] = only(resourcesOf(s.json, 'AWS::SNS::Topic').filter(([id]) => id.includes('AlarmTopic')), 'alarm topic');
    s.template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com', TopicArn: { Ref: topicId } });
    const alarms = resourcesOf(s.json, 'AWS::CloudWatch::Alarm').filter(([, a]) => JSON.stringify(a.Properties?.AlarmActions).includes(topicId));
    expect(alarms.length).toBeGreaterThanOrEqual(6);
  });
});

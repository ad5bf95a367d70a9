import { rmSync } from 'node:fs';
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resourcesOf, type Synthesized, synthBlipline } from './support.js';

let s: Synthesized;
let onDefault: Synthesized;
beforeAll(() => {
  s = synthBlipline({ bundling: false, props: { events: { webhookHosts: ['hooks.example.com'], webhookAttempts: 6 } } });
  onDefault = synthBlipline({ bundling: false, props: { events: { useDefaultBus: true } } });
});
afterAll(() => {
  for (const x of [s, onDefault]) if (x) rmSync(x.outdir, { recursive: true, force: true });
});

const idOf = (x: Synthesized, type: string, fragment: string): string => {
  const found = resourcesOf(x.json, type).filter(([id]) => id.includes(fragment));
  expect(found).toHaveLength(1);
  return found[0]![0];
};
type Statement = { Action: string | string[]; Resource: unknown; Effect: string };
/** Every policy statement attached to a role, by the role's logical id fragment. */
function statementsOf(x: Synthesized, roleFragment: string): Statement[] {
  const policies = resourcesOf(x.json, 'AWS::IAM::Policy').filter(([, r]) => JSON.stringify(r.Properties?.Roles ?? []).includes(roleFragment));
  expect(policies.length).toBeGreaterThan(0);
  return policies.flatMap(([, r]) => (r.Properties?.PolicyDocument as { Statement: Statement[] }).Statement);
}
const actions = (st: Statement) => (Array.isArray(st.Action) ? st.Action : [st.Action]);
const workerEnv = (x: Synthesized) => {
  const tasks = resourcesOf(x.json, 'AWS::ECS::TaskDefinition');
  expect(tasks).toHaveLength(1);
  type Container = { Environment: { Name: string; Value: unknown }[]; Secrets?: { Name: string; ValueFrom: unknown }[] };
  return (tasks[0]![1].Properties?.ContainerDefinitions as Container[])[0]!;
};

describe('result events and webhooks', () => {
  it('a bus of the stack\'s own, named to the worker and the API', () => {
    s.template.resourceCountIs('AWS::Events::EventBus', 1);
    const bus = idOf(s, 'AWS::Events::EventBus', 'EventsBus');
    const container = workerEnv(s);
    expect(container.Environment).toContainEqual({ Name: 'BLIPLINE_EVENT_BUS', Value: { Ref: bus } });
    expect(container.Environment).toContainEqual({ Name: 'BLIPLINE_WEBHOOK_HOSTS', Value: 'hooks.example.com' });
    expect(container.Environment).toContainEqual({ Name: 'BLIPLINE_WEBHOOK_ATTEMPTS', Value: '6' });
    s.template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ BLIPLINE_EVENT_BUS: { Ref: bus } }) } });
  });

  it('the worker and the API may only events:PutEvents, on that bus', () => {
    const bus = idOf(s, 'AWS::Events::EventBus', 'EventsBus');
    for (const role of ['WorkerTaskTaskRole', 'ApiHandlerServiceRole']) {
      const eventStatements = statementsOf(s, role).filter((st) => actions(st).some((a) => a.startsWith('events:')));
      expect(eventStatements).toEqual([{ Action: 'events:PutEvents', Effect: 'Allow', Resource: { 'Fn::GetAtt': [bus, 'Arn'] } }]);
    }
  });

  it('the delivery queue moves a job to its DLQ after the last attempt, and the DLQ has an alarm', () => {
    const dlq = idOf(s, 'AWS::SQS::Queue', 'WebhookDeadLetterQueue');
    s.template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] }, maxReceiveCount: 6 },
      SqsManagedSseEnabled: true,
    });
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } }],
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      AlarmActions: [Match.anyValue()],
    });
    const queue = idOf(s, 'AWS::SQS::Queue', 'WebhookDeliveries');
    const sqsStatements = statementsOf(s, 'WorkerTaskTaskRole').filter((st) => JSON.stringify(st.Resource).includes(queue));
    expect(sqsStatements).toHaveLength(1);
    expect(actions(sqsStatements[0]!)).toEqual(expect.arrayContaining(['sqs:SendMessage', 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility']));
  });

  it('the signing secret is in Secrets Manager and reaches the worker as an ECS secret, never as plain text', () => {
    const secret = idOf(s, 'AWS::SecretsManager::Secret', 'WebhookSecret');
    expect(workerEnv(s).Secrets).toContainEqual({ Name: 'BLIPLINE_WEBHOOK_SECRET', ValueFrom: { Ref: secret } });
    expect(workerEnv(s).Environment.map((e) => e.Name)).not.toContain('BLIPLINE_WEBHOOK_SECRET');
  });

  it('outputs the bus and an example rule', () => {
    const outputs = s.json.Outputs as Record<string, { Value: unknown }>;
    expect(outputs).toHaveProperty('EventBusName');
    expect(JSON.stringify(outputs.ExampleEventRule?.Value)).toContain('Image Captioned');
  });

  it('on the default bus: no bus resource, PutEvents on the default bus only, no bus name in the environment', () => {
    onDefault.template.resourceCountIs('AWS::Events::EventBus', 0);
    const statements = statementsOf(onDefault, 'WorkerTaskTaskRole').filter((st) => actions(st).some((a) => a.startsWith('events:')));
    expect(statements).toHaveLength(1);
    expect(JSON.stringify(statements[0]!.Resource)).toContain(':event-bus/default');
    expect(workerEnv(onDefault).Environment.map((e) => e.Name)).not.toContain('BLIPLINE_EVENT_BUS');
  });
});

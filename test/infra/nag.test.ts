import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { afterAll, describe, expect, it } from 'vitest';
import { buildBlipline } from './support.js';

interface Report {
  pluginReports: { pluginName: string; conclusion: string; violations: { ruleName: string; severity: string; violatingConstructs: { constructPath: string }[] }[] }[];
}

describe('cdk-nag (AwsSolutions)', () => {
  // One synthesis of the real stack plus one deliberately insecure security group: cdk-nag must
  // fail the synthesis for the canary, and for nothing else (every other finding is acknowledged).
  const { app, stack, outdir } = buildBlipline({
    bundling: false,
    mutate: (s) => {
      const canary = new ec2.SecurityGroup(s, 'NagCanary', { vpc: s.network.vpc, description: 'open to the world on purpose' });
      canary.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(22), 'ssh from anywhere');
    },
  });
  let failure: unknown;
  try {
    app.synth();
  } catch (error) {
    failure = error;
  }
  const report = JSON.parse(readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')) as Report;
  afterAll(() => {
    rmSync(outdir, { recursive: true, force: true });
  });

  it('runs in the app and fails synthesis on an unacknowledged error', () => {
    expect(String(failure)).toMatch(/ValidationFailed|Validation failed/);
    const nag = report.pluginReports.find((p) => p.pluginName === 'AwsSolutions');
    expect(nag?.conclusion).toBe('failure');
  });

  it('finds nothing unacknowledged in the stack except the canary', () => {
    const violations = report.pluginReports.flatMap((p) =>
      p.violations.flatMap((v) => v.violatingConstructs.map((c) => ({ rule: v.ruleName, severity: v.severity, path: c.constructPath }))),
    );
    expect(violations.length).toBeGreaterThan(0);
    for (const v of violations) expect(v.path, `${v.rule} at ${v.path}`).toMatch(/\/NagCanary\//);
  });

  it('gives every acknowledgment a written reason', () => {
    const acknowledged: [string, string][] = [];
    for (const construct of stack.node.findAll()) {
      for (const entry of construct.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
          // CDK records acknowledgments as `Annotation::<rule id>`; its own CloudFormation ones are not ours.
          const rule = id.replace(/^Annotation::/, '');
          if (rule.startsWith('AwsSolutions-')) acknowledged.push([rule, reason]);
        }
      }
    }
    expect(acknowledged.length).toBeGreaterThanOrEqual(8);
    for (const [id, reason] of acknowledged) {
      expect(id).toMatch(/^AwsSolutions-[A-Z]+\d+/);
      expect(reason.split(/\s+/).length, id).toBeGreaterThanOrEqual(12);
    }
  });
});

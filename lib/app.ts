import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { BliplineStack } from './blipline-stack.js';
import type { BliplineStackProps } from './config.js';

/** Builds the CDK app: one BliplineStack, checked by cdk-nag's AwsSolutions pack at synth. */
export function buildApp(app: App, props: BliplineStackProps = {}, stackName = 'Blipline'): BliplineStack {
  const stack = new BliplineStack(app, stackName, props);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return stack;
}

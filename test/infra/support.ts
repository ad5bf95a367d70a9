import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { buildApp } from '../../lib/app.js';
import type { BliplineStack } from '../../lib/blipline-stack.js';
import type { BliplineStackProps } from '../../lib/config.js';
import { REPO_ROOT } from '../../lib/paths.js';

/** cdk.json's context (feature flags), so in-process synth behaves like `npx cdk synth`. */
export function cdkContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  return cdkJson.context;
}

export interface Synthesized {
  app: App;
  stack: BliplineStack;
  outdir: string;
  assembly: CloudAssembly;
  template: Template;
  json: Record<string, unknown>;
}

export interface BuildOptions {
  props?: BliplineStackProps;
  /** Run esbuild for the API function (slower); off, CDK stages a placeholder. */
  bundling?: boolean;
  /** Changes to make to the stack before synthesis. */
  mutate?: (stack: BliplineStack) => void;
}

/** Builds the real app (cdk-nag included) in a fresh output directory. */
export function buildBlipline(options: BuildOptions = {}): { app: App; stack: BliplineStack; outdir: string } {
  const outdir = mkdtempSync(path.join(tmpdir(), 'blipline-cdk-'));
  const context: Record<string, unknown> = { ...cdkContext() };
  if (options.bundling === false) context['aws:cdk:bundling-stacks'] = [];
  const app = new App({ outdir, context });
  const stack = buildApp(app, options.props ?? {});
  options.mutate?.(stack);
  return { app, stack, outdir };
}

/** Builds and synthesizes once; throws what synthesis throws (cdk-nag findings included). */
export function synthBlipline(options: BuildOptions = {}): Synthesized {
  const { app, stack, outdir } = buildBlipline(options);
  const assembly = app.synth();
  const json = assembly.getStackByName(stack.stackName).template as Record<string, unknown>;
  return { app, stack, outdir, assembly, template: Template.fromJSON(json), json };
}

type Resource = { Type: string; Properties?: Record<string, unknown> };

/** Resources of one type, by logical id. */
export function resourcesOf(json: Record<string, unknown>, type: string): [string, Resource][] {
  const resources = json.Resources as Record<string, Resource>;
  return Object.entries(resources).filter(([, r]) => r.Type === type);
}

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
  /** Stack props; without env the stack is put in us-east-1 (the edge's web ACL is then made in-stack). */
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
  const props = options.props ?? {};
  const stack = buildApp(app, { ...props, env: props.env ?? { region: 'us-east-1' } });
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

export type Resource = { Type: string; Properties?: Record<string, unknown> };

/** Resources of one type, by logical id. */
export function resourcesOf(json: Record<string, unknown>, type: string): [string, Resource][] {
  const resources = json.Resources as Record<string, Resource>;
  return Object.entries(resources).filter(([, r]) => r.Type === type);
}

/** The one resource of a type whose logical id is `fragment` + hash, else contains `fragment`; throws naming what is missing. */
export function logicalIdOf(json: Record<string, unknown>, type: string, fragment: string): string {
  const all = resourcesOf(json, type);
  const exact = all.filter(([id]) => new RegExp(`^${fragment}[0-9A-F]{8}$`).test(id));
  const matches = exact.length > 0 ? exact : all.filter(([id]) => id.includes(fragment));
  if (matches.length !== 1) throw new Error(`${matches.length} ${type} resources have an id containing ${fragment}`);
  return matches[0]?.[0] ?? '';
}

/** A Lambda function's environment variables (by logical id prefix). */
export function functionEnvironment(json: Record<string, unknown>, idPrefix: string): Record<string, unknown> {
  const fn = resourcesOf(json, 'AWS::Lambda::Function').find(([id]) => id.startsWith(idPrefix));
  if (!fn) throw new Error(`no function ${idPrefix}`);
  return ((fn[1].Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables) ?? {};
}

/** The worker container's environment and secrets, by name. */
export function workerContainer(json: Record<string, unknown>): { env: Record<string, unknown>; secrets: Record<string, unknown> } {
  const [, task] = resourcesOf(json, 'AWS::ECS::TaskDefinition')[0] ?? [];
  const container = (task?.Properties?.ContainerDefinitions as { Environment?: { Name: string; Value: unknown }[]; Secrets?: { Name: string; ValueFrom: unknown }[] }[] | undefined)?.[0];
  return {
    env: Object.fromEntries((container?.Environment ?? []).map((e) => [e.Name, e.Value])),
    secrets: Object.fromEntries((container?.Secrets ?? []).map((e) => [e.Name, e.ValueFrom])),
  };
}

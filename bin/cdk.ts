// The CDK app (cdk.json runs it): `npx cdk synth`, `npx cdk deploy`. Settings come from CDK context,
// e.g. `npx cdk deploy -c allowedOrigins=https://example.com -c alarmEmail=ops@example.com`.
import { App, Duration } from 'aws-cdk-lib';
import { z } from 'zod';
import { buildApp } from '../lib/app.js';
import { StackConfigError } from '../lib/errors.js';

const list = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter((s) => s !== ''));
const count = z.coerce.number().int();

/** Context values the app reads; every one optional (the stack documents its defaults). */
const contextSchema = z.object({
  stackName: z.string().regex(/^[A-Za-z][A-Za-z0-9-]*$/, 'letters, digits and hyphens, starting with a letter').default('Blipline'),
  allowedOrigins: list.optional(),
  alarmEmail: z.string().optional(),
  notificationPrefix: z.string().optional(),
  captionModel: z.string().optional(),
  vqaModel: z.string().optional(),
  hubTokenEnv: z.string().optional(),
  hubTokenFile: z.string().optional(),
  precision: z.enum(['int8', 'fp32']).optional(),
  workerArchitecture: z.enum(['x86_64', 'arm64']).optional(),
  maxTasks: count.optional(),
  secondsPerImage: z.coerce.number().optional(),
  acceptableLatencySeconds: count.optional(),
});

const app = new App();
const keys = Object.keys(contextSchema.shape);
const raw = Object.fromEntries(keys.map((k) => [k, app.node.tryGetContext(k)]).filter(([, v]) => v !== undefined));
const parsed = contextSchema.safeParse(raw);
if (!parsed.success) {
  const issues = parsed.error.issues.map((i) => `-c ${i.path.join('.')}: ${i.message}`).join('; ');
  throw new StackConfigError(`invalid CDK context: ${issues}`);
}
const c = parsed.data;
if (c.hubTokenEnv !== undefined && c.hubTokenFile !== undefined) throw new StackConfigError('invalid CDK context: give -c hubTokenEnv or -c hubTokenFile, not both');
const modelAccessToken = c.hubTokenEnv !== undefined ? { env: c.hubTokenEnv } : c.hubTokenFile !== undefined ? { file: c.hubTokenFile } : undefined;
buildApp(
  app,
  {
    description: 'blipline: event-driven image captioning (S3 → SQS → Fargate BLIP → DynamoDB + Valkey, API on Lambda)',
    allowedOrigins: c.allowedOrigins,
    alarmEmail: c.alarmEmail,
    notificationPrefix: c.notificationPrefix,
    captionModel: c.captionModel,
    vqaModel: c.vqaModel,
    modelAccessToken,
    precision: c.precision,
    workerArchitecture: c.workerArchitecture,
    scaling: {
      maxTasks: c.maxTasks,
      secondsPerImage: c.secondsPerImage,
      acceptableLatency: c.acceptableLatencySeconds === undefined ? undefined : Duration.seconds(c.acceptableLatencySeconds),
    },
  },
  c.stackName,
);

// The CDK app (cdk.json runs it): `npx cdk synth`, `npx cdk deploy --all`. Settings come from CDK
// context, e.g. `npx cdk deploy --all -c region=eu-west-1 -c alarmEmail=ops@example.com`.
//
// Region: -c region, else CDK_DEFAULT_REGION (the CLI sets it from the AWS profile), else us-east-1.
// The stack always has a concrete region: CloudFront's web ACL must be made in us-east-1, and from
// any other region a companion stack `<stackName>-Edge` there holds it (a cross-region reference).
// The account comes only from -c account (left unset, synthesis never looks anything up, so
// `cdk synth` works offline; deploying resolves it from the credentials).
import { App, Duration } from 'aws-cdk-lib';
import { z } from 'zod';
import { buildApp } from '../lib/app.js';
import type { AuthProps } from '../lib/security-config.js';
import { StackConfigError } from '../lib/errors.js';

const list = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter((s) => s !== ''));
const count = z.coerce.number().int();
const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);

/** Optional free-text context values (each is validated by the stack props it feeds). */
function optionalTexts<const K extends string>(...names: K[]): Record<K, z.ZodOptional<z.ZodString>> {
  return Object.fromEntries(names.map((name) => [name, z.string().optional()])) as Record<K, z.ZodOptional<z.ZodString>>;
}

/** Context values the app reads; every one optional (the stack documents its defaults). */
const contextSchema = z.object({
  stackName: z.string().regex(/^[A-Za-z][A-Za-z0-9-]*$/, 'letters, digits and hyphens, starting with a letter').default('Blipline'),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as eu-west-1').optional(),
  account: z.string().regex(/^\d{12}$/, 'a 12-digit AWS account id').optional(),
  ...optionalTexts(
    'oidcIssuer',
    'oidcWebClientId',
    'cognitoDomainPrefix',
    'webAclArn',
    'edgeDomainName',
    'edgeCertificateArn',
    'apiDomainName',
    'apiCertificateArn',
    'alarmEmail',
    'notificationPrefix',
    'captionModel',
    'vqaModel',
  ),
  auth: z.enum(['cognito', 'oidc', 'anonymous']).default('cognito'),
  allowAnonymous: flag.optional(),
  oidcAudience: list.optional(),
  selfSignUp: flag.optional(),
  edge: flag.optional(),
  quotaUploadsPerDay: count.optional(),
  quotaUploadBytesPerDay: count.optional(),
  quotaQuestionsPerImage: count.optional(),
  quotaQuestionsPerMinute: count.optional(),
  allowedOrigins: list.optional(),
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

function authProps(): AuthProps {
  if (c.auth === 'anonymous') return { mode: 'anonymous' };
  if (c.auth === 'cognito') return { mode: 'cognito', domainPrefix: c.cognitoDomainPrefix, selfSignUp: c.selfSignUp };
  if (c.oidcIssuer === undefined || c.oidcAudience === undefined || c.oidcWebClientId === undefined) {
    throw new StackConfigError('-c auth=oidc needs -c oidcIssuer=URL -c oidcAudience=A[,B] -c oidcWebClientId=ID');
  }
  return { mode: 'oidc', issuer: c.oidcIssuer, audience: c.oidcAudience, webClientId: c.oidcWebClientId };
}

/** A domain and its certificate, given together or not at all. */
function domain(name: string, domainName: string | undefined, certificateArn: string | undefined): { domainName: string; certificateArn: string } | undefined {
  if (domainName === undefined && certificateArn === undefined) return undefined;
  if (domainName === undefined || certificateArn === undefined) throw new StackConfigError(`-c ${name}DomainName and -c ${name}CertificateArn go together`);
  return { domainName, certificateArn };
}

buildApp(
  app,
  {
    env: { account: c.account, region: c.region ?? process.env.CDK_DEFAULT_REGION ?? 'us-east-1' },
    description: 'blipline: event-driven image captioning (S3 → SQS → Fargate BLIP → DynamoDB + Valkey, API on Lambda)',
    auth: authProps(),
    allowAnonymous: c.allowAnonymous,
    edge: { enabled: c.edge, webAclArn: c.webAclArn, domain: domain('edge', c.edgeDomainName, c.edgeCertificateArn) },
    apiDomain: domain('api', c.apiDomainName, c.apiCertificateArn),
    quotas: {
      uploadsPerDay: c.quotaUploadsPerDay,
      uploadBytesPerDay: c.quotaUploadBytesPerDay,
      questionsPerImage: c.quotaQuestionsPerImage,
      questionsPerMinute: c.quotaQuestionsPerMinute,
    },
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

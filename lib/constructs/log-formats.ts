import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as logs from 'aws-cdk-lib/aws-logs';

/**
 * The `$context` variables API Gateway documents for HTTP API access logs ("Customize HTTP API access logs",
 * API Gateway developer guide), without the per-property families (`authorizer.claims.<name>`,
 * `authorizer.<name>`, `identity.clientCert.*`). HTTP APIs have no `resourcePath` (a REST API variable): the
 * route is `$context.routeKey`, e.g. `GET /v1/images/{imageId}` or `$default`.
 */
export const HTTP_API_LOG_VARIABLES = [
  'accountId',
  'apiId',
  'authorizer.error',
  'authorizer.principalId',
  'awsEndpointRequestId',
  'awsEndpointRequestId2',
  'customDomain.basePathMatched',
  'dataProcessed',
  'domainName',
  'domainPrefix',
  'error.message',
  'error.messageString',
  'error.responseType',
  'extendedRequestId',
  'httpMethod',
  'identity.accountId',
  'identity.caller',
  'identity.principalOrgId',
  'identity.sourceIp',
  'identity.user',
  'identity.userAgent',
  'identity.userArn',
  'integration.error',
  'integration.integrationStatus',
  'integration.latency',
  'integration.requestId',
  'integration.status',
  'integrationErrorMessage',
  'integrationLatency',
  'integrationStatus',
  'path',
  'protocol',
  'requestId',
  'requestTime',
  'requestTimeEpoch',
  'responseLatency',
  'responseLength',
  'routeKey',
  'stage',
  'status',
] as const;

type HttpApiLogVariable = (typeof HTTP_API_LOG_VARIABLES)[number];
const v = (name: HttpApiLogVariable) => `$context.${name}`;

/** One JSON line per request: who, which route, the outcome and where the time went. */
export const HTTP_API_ACCESS_LOG_FIELDS: Record<string, string> = {
  requestId: v('requestId'),
  ip: v('identity.sourceIp'),
  requestTime: v('requestTime'),
  httpMethod: v('httpMethod'),
  routeKey: v('routeKey'),
  path: v('path'),
  protocol: v('protocol'),
  status: v('status'),
  responseLength: v('responseLength'),
  responseLatency: v('responseLatency'),
  integrationStatus: v('integrationStatus'),
  integrationLatency: v('integrationLatency'),
  integrationError: v('integrationErrorMessage'),
  error: v('error.message'),
  authorizerError: v('authorizer.error'),
  userAgent: v('identity.userAgent'),
};

export function httpApiAccessLogFormat(): AccessLogFormat {
  return AccessLogFormat.custom(JSON.stringify(HTTP_API_ACCESS_LOG_FIELDS));
}

/**
 * Log levels as the services write them: pino with the level as its label (services/core/logger.ts), so
 * `{"level":"error",...}`, not pino's default numbers.
 */
export const ERROR_LOG_LEVELS = ['error', 'fatal'] as const;

/** CloudWatch Logs filter pattern for the services' error lines (JSON field `level`). */
export function errorLinesPattern(): logs.IFilterPattern {
  return logs.FilterPattern.any(...ERROR_LOG_LEVELS.map((level) => logs.FilterPattern.stringValue('$.level', '=', level)));
}

import path from 'node:path';
import openapiTS, { astToString } from 'openapi-typescript';
import { pino } from 'pino';
import { repoRoot } from '../core/paths.js';
import { createApp } from './app.js';
import type { ApiDeps } from './app.js';

/** Where the page's generated API types live. */
export const API_TYPES_FILE = path.join(repoRoot, 'services/web/src/api/openapi.ts');

/** The OpenAPI description as the app serves it (no store is touched to describe the routes). */
export async function openApiDocument(): Promise<unknown> {
  const deps = {
    config: {
      maxUploadBytes: 1,
      uploadExpiresSeconds: 1,
      allowedOrigins: '*',
      model: undefined,
      vqaModel: undefined,
      webDir: repoRoot,
      auth: { mode: 'anonymous', userScope: 'blipline/images', operatorScope: 'blipline/operator' },
      quotas: { uploadsPerDay: 1, uploadBytesPerDay: 1, questionsPerImage: 1, questionsPerMinute: 1 },
      originVerifySecret: undefined,
      s3Endpoint: undefined,
    },
    logger: pino({ level: 'silent' }),
  } as Pick<ApiDeps, 'config' | 'logger'> as ApiDeps;
  return (await createApp(deps).request('/v1/openapi.json')).json();
}

/** The TypeScript types of the description, as openapi-typescript renders them. */
export async function renderApiTypes(): Promise<string> {
  const ast = await openapiTS((await openApiDocument()) as Parameters<typeof openapiTS>[0]);
  return `// Generated from GET /v1/openapi.json by \`npm run generate:api-types\` (openapi-typescript). Do not edit.\n${astToString(ast)}`;
}

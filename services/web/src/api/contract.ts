/**
 * The page's client checked against the API's OpenAPI description at compile time (`npm run typecheck` and
 * `npm run build:web`): what the page sends must be what the API accepts, and what the API answers must pass the
 * page's own schemas. openapi.ts is generated from GET /v1/openapi.json (`npm run generate:api-types`); a test keeps
 * it current, so a change to a route that the page does not follow fails the build.
 */
import type { CreateUploadRequest } from './client.js';
import type { components, paths } from './openapi.js';
import type { ApiConfig, CreateUploadResponse, ImageRecord, QuestionAccepted, QuestionRecord } from './schemas.js';

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;
/** Compiles only when `A` is assignable to `B`. */
type Assignable<A extends B, B> = A;

type UploadBody = Json<paths['/v1/uploads']['post']['requestBody']>;

export type ClientMatchesApi = [
  Assignable<CreateUploadRequest, UploadBody>,
  Assignable<Json<paths['/v1/uploads']['post']['responses'][201]>, CreateUploadResponse>,
  Assignable<components['schemas']['Image'], ImageRecord>,
  Assignable<components['schemas']['DroppedImage'], ImageRecord>,
  Assignable<Json<paths['/v1/images/{imageId}/questions']['post']['responses'][202]>, QuestionAccepted>,
  Assignable<components['schemas']['Question'], QuestionRecord>,
  Assignable<components['schemas']['Config'], ApiConfig>,
];

/**
 * zod schemas for what the API sends the page (HTTP API contract in DESIGN.md). Objects are loose:
 * fields the API adds later pass through untouched.
 */
import * as z from 'zod/mini';

export const IMAGE_STATUSES = ['awaiting_upload', 'queued', 'processing', 'done', 'failed'] as const;
export type ImageStatus = (typeof IMAGE_STATUSES)[number];

export const ApiErrorBody = z.looseObject({
  error: z.looseObject({ code: z.string(), message: z.optional(z.string()) }),
});

const HeaderMap = z.record(z.string(), z.union([z.string(), z.number()]));

export const PresignedPut = z.looseObject({
  method: z.literal('PUT'),
  url: z.string(),
  headers: z.optional(HeaderMap),
});
export const PresignedPost = z.looseObject({
  method: z.literal('POST'),
  url: z.string(),
  fields: z.record(z.string(), z.string()),
});
export const PresignedUpload = z.discriminatedUnion('method', [PresignedPut, PresignedPost]);
export type PresignedUpload = z.infer<typeof PresignedUpload>;

export const CreateUploadResponse = z.looseObject({
  imageId: z.string().check(z.minLength(1)),
  upload: PresignedUpload,
  expiresAt: z.optional(z.union([z.string(), z.number()])),
  statusUrl: z.optional(z.string()),
});
export type CreateUploadResponse = z.infer<typeof CreateUploadResponse>;

const Failure = z.looseObject({ code: z.string(), message: z.optional(z.string()) });

/** A caption is a string in the contract; an object `{text}` is accepted too. */
const Caption = z.union([z.string(), z.looseObject({ text: z.string() })]);

const Timings = z.record(z.string(), z.number());

export const ImageRecord = z.looseObject({
  imageId: z.string(),
  status: z.enum(IMAGE_STATUSES),
  caption: z.optional(z.nullable(Caption)),
  model: z.optional(z.nullable(z.string())),
  error: z.optional(z.nullable(Failure)),
  prompt: z.optional(z.nullable(z.string())),
  durationMs: z.optional(z.nullable(z.number())),
  timingsMs: z.optional(z.nullable(Timings)),
  cacheHit: z.optional(z.nullable(z.boolean())),
  createdAt: z.optional(z.union([z.string(), z.number()])),
  updatedAt: z.optional(z.union([z.string(), z.number()])),
});
export type ImageRecord = z.infer<typeof ImageRecord>;

export const QuestionAccepted = z.looseObject({
  questionId: z.string().check(z.minLength(1)),
  statusUrl: z.optional(z.string()),
});
export type QuestionAccepted = z.infer<typeof QuestionAccepted>;

export const QuestionRecord = z.looseObject({
  questionId: z.optional(z.string()),
  status: z.string(),
  question: z.optional(z.string()),
  answer: z.optional(z.nullable(Caption)),
  error: z.optional(z.nullable(Failure)),
});
export type QuestionRecord = z.infer<typeof QuestionRecord>;

/** How the page signs in: through an OpenID provider (authorization code + PKCE), or not at all. */
export const OidcSettings = z.looseObject({
  mode: z.literal('oidc'),
  issuer: z.url(),
  clientId: z.nullable(z.string().check(z.minLength(1))),
  scope: z.string().check(z.minLength(1)),
  logoutUrl: z.optional(z.nullable(z.url())),
});
export type OidcSettings = z.infer<typeof OidcSettings>;
export const AuthSettings = z.discriminatedUnion('mode', [OidcSettings, z.looseObject({ mode: z.literal('anonymous') })]);
export type AuthSettings = z.infer<typeof AuthSettings>;

/** GET /v1/config: every field optional so an older API (or none) still works; no `auth` means anonymous. */
export const ApiConfig = z.looseObject({
  maxUploadBytes: z.optional(z.number()),
  uploadExpiresSeconds: z.optional(z.number()),
  prompt: z.optional(z.boolean()),
  questions: z.optional(z.boolean()),
  auth: z.optional(AuthSettings),
});
export type ApiConfig = z.infer<typeof ApiConfig>;

export function captionText(value: z.infer<typeof Caption> | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? value : value.text;
}

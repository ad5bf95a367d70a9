// Generated from GET /v1/openapi.json by `npm run generate:api-types` (openapi-typescript). Do not edit.
export interface paths {
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness and the cache state */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description the API is up */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Health"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/config": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Limits and how to sign in (open) */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description the page configuration */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Config"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/uploads": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** A presigned, one-shot PUT for one image */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    /**
                     * @example {
                     *       "contentType": "image/jpeg",
                     *       "contentLength": 48213,
                     *       "filename": "cat.jpg"
                     *     }
                     */
                    "application/json": {
                        contentType: string;
                        contentLength: number;
                        filename?: string;
                        prompt?: string;
                        webhook?: {
                            url: string;
                        };
                    };
                };
            };
            responses: {
                /** @description the record is created `awaiting_upload`; PUT the bytes to `upload.url` with `upload.headers` */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Upload"];
                    };
                };
                /** @description the body is not valid JSON (`invalid_json`) or not a valid request (`invalid_request`) */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description no bearer token, or the token is invalid (expired, not valid yet, another issuer or audience, bad signature); `WWW-Authenticate` says why */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description the token lacks the scope the route needs (`insufficient_scope`), or the request did not come through the distribution */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description `contentLength` over the limit (`too_large`) or a body over 16 KiB (`body_too_large`) */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description not an image type the worker decodes (`unsupported_type`) */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description a daily upload quota is used up (`quota_exceeded`, `quota` names it); `Retry-After` says when it refills */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description the identity provider cannot be reached (`auth_unavailable`) */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/images/{imageId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** An image's status and caption */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    imageId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description the caller's view: the owner's (`Image`), or the operator's of a dropped object (`DroppedImage`) */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Image"] | components["schemas"]["DroppedImage"];
                    };
                };
                /** @description no bearer token, or the token is invalid (expired, not valid yet, another issuer or audience, bad signature); `WWW-Authenticate` says why */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description the token lacks the scope the route needs (`insufficient_scope`), or the request did not come through the distribution */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description unknown, or not the caller's (answered exactly alike) */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description the identity provider cannot be reached (`auth_unavailable`) */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        /** Delete an image and everything about it */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    imageId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description the object, the records, the questions and the cache entries are gone */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description no bearer token, or the token is invalid (expired, not valid yet, another issuer or audience, bad signature); `WWW-Authenticate` says why */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description the token lacks the scope the route needs (`insufficient_scope`), or the request did not come through the distribution */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description unknown, or not the caller's */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description the identity provider cannot be reached (`auth_unavailable`) */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/objects": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The record of an object dropped into the bucket (operator scope) */
        get: {
            parameters: {
                query: {
                    key: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description the record */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["DroppedImage"];
                    };
                };
                /** @description no `key` (`invalid_request`) */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description no bearer token, or the token is invalid (expired, not valid yet, another issuer or audience, bad signature); `WWW-Authenticate` says why */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description the token lacks the scope the route needs (`insufficient_scope`), or the request did not come through the distribution */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description no record for the key */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description the identity provider cannot be reached (`auth_unavailable`) */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/images/{imageId}/questions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Ask a question about an image (VQA) */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    imageId: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    /**
                     * @example {
                     *       "question": "what color is the cat?"
                     *     }
                     */
                    "application/json": {
                        question: string;
                    };
                };
            };
            responses: {
                /** @description queued; poll `statusUrl` */
                202: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["QuestionAccepted"];
                    };
                };
                /** @description not a valid question */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description no bearer token, or the token is invalid (expired, not valid yet, another issuer or audience, bad signature); `WWW-Authenticate` says why */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description the token lacks the scope the route needs (`insufficient_scope`), or the request did not come through the distribution */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description unknown image, or not the caller's */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description the image is not uploaded (`not_uploaded`), failed (`image_failed`), or no VQA model is configured (`vqa_unavailable`) */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description a question quota is used up (`quota_exceeded`: `questions_per_minute` or `questions_per_image`) */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description the identity provider cannot be reached (`auth_unavailable`) */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/images/{imageId}/questions/{questionId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A question's status and answer */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    imageId: string;
                    questionId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description the question */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Question"];
                    };
                };
                /** @description no bearer token, or the token is invalid (expired, not valid yet, another issuer or audience, bad signature); `WWW-Authenticate` says why */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description the token lacks the scope the route needs (`insufficient_scope`), or the request did not come through the distribution */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description unknown, or not the caller's */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
                /** @description the identity provider cannot be reached (`auth_unavailable`) */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Error"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        Health: {
            /** @enum {string} */
            status: "ok";
            /** @enum {string} */
            cache: "ready" | "unavailable" | "disabled";
        };
        Config: {
            maxUploadBytes: number;
            uploadExpiresSeconds: number;
            /** @enum {string} */
            uploadMethod: "PUT";
            contentTypes: ("image/jpeg" | "image/png" | "image/webp" | "image/gif" | "image/avif" | "image/tiff" | "image/heic" | "image/heif" | "image/bmp" | "image/x-icon" | "image/vnd.microsoft.icon")[];
            prompt: boolean;
            questions: boolean;
            auth: {
                /** @enum {string} */
                mode: "oidc";
                /** Format: uri */
                issuer: string;
                clientId: string | null;
                scope: string;
                /** Format: uri */
                logoutUrl: string | null;
            } | {
                /** @enum {string} */
                mode: "anonymous";
            };
        };
        Upload: {
            /** Format: uuid */
            imageId: string;
            upload: {
                /** @enum {string} */
                method: "PUT";
                /** Format: uri */
                url: string;
                /** @description send exactly these headers: the signature covers them */
                headers: {
                    "Content-Type": string;
                    "Content-Length": string;
                    /** @enum {string} */
                    "If-None-Match": "*";
                };
            };
            /** Format: date-time */
            expiresAt: string;
            statusUrl: string;
        };
        Error: {
            error: {
                /** @example not_found */
                code: string;
                /** @example image 0190d5c2-8f4e-7a9b-8c1d-2e3f4a5b6c7d not found */
                message: string;
                /** @enum {string} */
                quota?: "uploads_per_day" | "upload_bytes_per_day" | "questions_per_minute" | "questions_per_image";
            };
        };
        Image: {
            imageId: string;
            /** @enum {string} */
            status: "awaiting_upload" | "queued" | "processing" | "done" | "failed";
            model: string;
            caption?: string;
            tokenIds?: number[];
            contentSha256?: string;
            contentType?: string;
            contentLength?: number;
            filename?: string;
            prompt?: string;
            webhook?: {
                url: string;
            };
            error?: {
                /** @enum {string} */
                code: "empty" | "not_an_image" | "unsupported_format" | "truncated" | "too_large" | "too_many_pixels" | "corrupt" | "object_missing" | "processing_error" | "enqueue_failed" | "vqa_unavailable" | "image_failed";
                message: string;
            };
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            updatedAt: string;
        };
        DroppedImage: {
            imageId: string;
            owner?: string;
            /** @enum {string} */
            status: "awaiting_upload" | "queued" | "processing" | "done" | "failed";
            model: string;
            objectKey: string;
            caption?: string;
            tokenIds?: number[];
            contentSha256?: string;
            contentType?: string;
            contentLength?: number;
            filename?: string;
            prompt?: string;
            webhook?: {
                url: string;
            };
            error?: {
                /** @enum {string} */
                code: "empty" | "not_an_image" | "unsupported_format" | "truncated" | "too_large" | "too_many_pixels" | "corrupt" | "object_missing" | "processing_error" | "enqueue_failed" | "vqa_unavailable" | "image_failed";
                message: string;
            };
            cacheHit?: boolean;
            timingsMs?: {
                queueMs?: number;
                inferenceMs?: number;
                totalMs?: number;
            };
            questionCount?: number;
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            updatedAt: string;
        };
        QuestionAccepted: {
            /** Format: uuid */
            questionId: string;
            statusUrl: string;
        };
        Question: {
            questionId: string;
            imageId: string;
            question: string;
            /** @enum {string} */
            status: "queued" | "processing" | "done" | "failed";
            answer?: string;
            tokenIds?: number[];
            model?: string;
            error?: {
                /** @enum {string} */
                code: "empty" | "not_an_image" | "unsupported_format" | "truncated" | "too_large" | "too_many_pixels" | "corrupt" | "object_missing" | "processing_error" | "enqueue_failed" | "vqa_unavailable" | "image_failed";
                message: string;
            };
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            updatedAt: string;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export type operations = Record<string, never>;

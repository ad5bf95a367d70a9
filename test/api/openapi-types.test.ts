import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { API_TYPES_FILE, renderApiTypes } from '../../services/api/openapi-types.js';

describe("the page's generated API types", () => {
  it('match the OpenAPI description the app serves (run `npm run generate:api-types` after changing a route)', async () => {
    const committed = await readFile(API_TYPES_FILE, 'utf8');
    const current = await renderApiTypes();
    expect(current).toContain('"/v1/images/{imageId}"');
    expect(committed).toBe(current);
  });
});

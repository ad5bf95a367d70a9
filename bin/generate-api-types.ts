// `npm run generate:api-types`: writes services/web/src/api/openapi.ts, the TypeScript types of the API's OpenAPI
// description (openapi-typescript), which the page's client is checked against (services/web/src/api/contract.ts).
// test/api/openapi-types.test.ts fails when the file is out of date.
import { writeFile } from 'node:fs/promises';
import { API_TYPES_FILE, renderApiTypes } from '../services/api/openapi-types.js';

await writeFile(API_TYPES_FILE, await renderApiTypes());
process.stdout.write(`${API_TYPES_FILE}\n`);

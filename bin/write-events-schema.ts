/** Writes docs/events.schema.json from the zod schemas of the result events (services/core/result-events.ts). */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { repoRoot } from '../services/core/paths.js';
import { resultEventsJsonSchema } from '../services/core/result-events.js';

const EVENTS_SCHEMA_PATH = path.join(repoRoot, 'docs/events.schema.json');

await writeFile(EVENTS_SCHEMA_PATH, `${JSON.stringify(resultEventsJsonSchema(), null, 2)}\n`);
process.stdout.write(`wrote ${EVENTS_SCHEMA_PATH}\n`);

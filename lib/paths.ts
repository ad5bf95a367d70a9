import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the worker image's build context and the base of the API's entry path. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

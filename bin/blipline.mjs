#!/usr/bin/env node
// The `blipline` command: runs the TypeScript entry point through tsx so `npx blipline` works
// straight after `npm ci`, with no build step.
import { register } from 'tsx/esm/api';

register();
await import('./blipline.ts');

export * from './cache.js';
export * from './clients.js';
export * from './errors.js';
export * from './record-store.js';
export * from './s3.js';
export * from './sqs.js';
export * from './secrets.js';

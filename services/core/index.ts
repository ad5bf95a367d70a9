export * from './config.js';
export * from './errors.js';
export * from './ids.js';
export * from './keys.js';
export * from './logger.js';
export * from './metrics.js';
export * from './records.js';
export * from './events.js';

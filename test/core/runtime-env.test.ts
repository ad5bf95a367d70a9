import { describe, expect, it } from 'vitest';
import { runtimeEnv } from '../../services/core/config.js';
import { ConfigError } from '../../services/core/errors.js';
import { createLogger } from '../../services/core/logger.js';

// The variables the CLI and the local runtime read outside loadConfig: one zod schema, one variable at a time.

describe('runtimeEnv', () => {
  it('reads valid values and treats empty ones as unset', () => {
    expect(runtimeEnv('LOG_LEVEL', { LOG_LEVEL: 'debug' })).toBe('debug');
    expect(runtimeEnv('LOG_LEVEL', { LOG_LEVEL: '' })).toBeUndefined();
    expect(runtimeEnv('BLIPLINE_MODEL', { BLIPLINE_MODEL: '' })).toBeUndefined();
    expect(runtimeEnv('BLIPLINE_VQA_MODEL', { BLIPLINE_VQA_MODEL: ' some/model ' })).toBe('some/model');
    expect(runtimeEnv('BLIPLINE_PRECISION', { BLIPLINE_PRECISION: 'int8' })).toBe('int8');
    expect(runtimeEnv('PORT', { PORT: '8080' })).toBe(8080);
    expect(runtimeEnv('PORT', {})).toBeUndefined();
  });

  it.each([
    ['LOG_LEVEL', 'loud'],
    ['BLIPLINE_PRECISION', 'fp16'],
    ['PORT', 'http'],
    ['PORT', '70000'],
  ] as const)('rejects %s=%s with one issue naming the variable', (name, value) => {
    let error: unknown;
    try {
      runtimeEnv(name, { [name]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toHaveLength(1);
    expect((error as ConfigError).issues[0]).toMatch(new RegExp(`^${name}: .*${JSON.stringify(value)}`));
  });

  it('is what the logger factory reads: an invalid LOG_LEVEL is a ConfigError, not a pino crash', () => {
    const before = process.env.LOG_LEVEL;
    process.env.LOG_LEVEL = 'loud';
    try {
      expect(() => createLogger({ name: 't' })).toThrow(ConfigError);
      expect(createLogger({ name: 't', level: 'silent' }).level).toBe('silent');
      process.env.LOG_LEVEL = '';
      expect(createLogger({ name: 't', defaultLevel: 'warn' }).level).toBe('warn');
    } finally {
      if (before === undefined) delete process.env.LOG_LEVEL;
      else process.env.LOG_LEVEL = before;
    }
  });
});

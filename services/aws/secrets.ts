import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Config } from '../core/config.js';
import { createSecretsClient } from './clients.js';
import { SecretUnavailableError } from './errors.js';

/** Reads a plain-string secret (the whole SecretString); throws SecretUnavailableError with the reason. */
export async function readSecretString(client: SecretsManagerClient, secretArn: string): Promise<string> {
  let out;
  try {
    out = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
  } catch (cause) {
    const name = cause instanceof Error ? cause.name : 'error';
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new SecretUnavailableError(secretArn, `${name}: ${message}`, { cause });
  }
  const value = out.SecretString;
  if (value === undefined || value === '') throw new SecretUnavailableError(secretArn, 'it has no string value (a binary or empty secret)');
  return value;
}

/**
 * The configuration with the cache password in place: BLIPLINE_REDIS_PASSWORD as given, or read
 * once from BLIPLINE_REDIS_PASSWORD_SECRET_ARN (the Lambda does this at cold start, so the password
 * never sits in the function's configuration). Without either, the config is returned unchanged.
 */
export async function withRedisPassword<C extends Pick<Config, 'region' | 'redisPassword' | 'redisPasswordSecretArn'>>(
  config: C,
  client: SecretsManagerClient = createSecretsClient(config),
): Promise<C> {
  if (config.redisPassword !== undefined || config.redisPasswordSecretArn === undefined) return config;
  return { ...config, redisPassword: await readSecretString(client, config.redisPasswordSecretArn) };
}

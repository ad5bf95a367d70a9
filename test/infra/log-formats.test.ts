import { rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_LOG_LEVELS, HTTP_API_LOG_VARIABLES } from '../../lib/constructs/log-formats.js';
import { createLogger } from '../../services/core/logger.js';
import { resourcesOf, type Synthesized, synthBlipline } from './support.js';

let s: Synthesized;
beforeAll(() => {
  s = synthBlipline({ bundling: false });
});
afterAll(() => {
  rmSync(s.outdir, { recursive: true, force: true });
});

describe('API access log format', () => {
  const format = () => {
    const [[, stage] = []] = resourcesOf(s.json, 'AWS::ApiGatewayV2::Stage');
    const settings = stage?.Properties?.AccessLogSettings as { Format: string } | undefined;
    return settings?.Format ?? '';
  };

  it('is one JSON object per request with the route key, not the REST-only resourcePath', () => {
    const fields = JSON.parse(format()) as Record<string, string>;
    expect(fields.routeKey).toBe('$context.routeKey');
    expect(fields).toMatchObject({ requestId: '$context.requestId', status: '$context.status', ip: '$context.identity.sourceIp', httpMethod: '$context.httpMethod' });
    expect(format()).not.toContain('resourcePath');
  });

  it("uses only variables API Gateway documents for HTTP API access logs", () => {
    const used = [...format().matchAll(/\$context\.([A-Za-z0-9.]+)/g)].map((m) => m[1]);
    expect(used.length).toBeGreaterThan(10);
    const documented = new Set<string>(HTTP_API_LOG_VARIABLES);
    for (const name of used) expect(documented.has(name ?? ''), name).toBe(true);
  });
});

describe('worker error lines', () => {
  it('the metric filter matches the level the services write for errors and fatals, and nothing else', () => {
    const [[, filter] = []] = resourcesOf(s.json, 'AWS::Logs::MetricFilter');
    const pattern = String(filter?.Properties?.FilterPattern);
    expect(pattern).toBe('{ ($.level = "error") || ($.level = "fatal") }');
    const matched = new Set([...pattern.matchAll(/\$\.level = "(\w+)"/g)].map((m) => m[1]));

    // What the services' logger really writes at each level.
    const lines: string[] = [];
    const logger = createLogger({
      level: 'trace',
      destination: new Writable({
        write(chunk: Buffer, _encoding, callback) {
          lines.push(String(chunk));
          callback();
        },
      }),
    });
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    logger.fatal('f');
    const levels = lines.map((l) => (JSON.parse(l) as { level: unknown }).level);
    expect(levels).toEqual(['info', 'warn', 'error', 'fatal']);
    expect(levels.filter((level) => matched.has(String(level)))).toEqual([...ERROR_LOG_LEVELS]);
  });
});

import { describe, expect, it } from 'vitest';
import { METRICS, Metrics } from '../../services/core/metrics.js';

describe('Metrics', () => {
  it('writes CloudWatch EMF lines and keeps totals per metric and dimension', () => {
    const lines: string[] = [];
    const metrics = new Metrics({ service: 'worker', sink: (line) => lines.push(line) });
    metrics.emit({ [METRICS.inferences]: 3, [METRICS.inferenceMs]: 120 });
    metrics.count(METRICS.failures, 1, { Reason: 'not_an_image' });
    metrics.count(METRICS.failures, 1, { Reason: 'not_an_image' });
    const first = JSON.parse(lines[0]!) as Record<string, unknown> & { _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] } };
    expect(first._aws.CloudWatchMetrics[0]).toEqual({
      Namespace: 'blipline',
      Dimensions: [['Service']],
      Metrics: [
        { Name: 'Inferences', Unit: 'Count' },
        { Name: 'InferenceMs', Unit: 'Milliseconds' },
      ],
    });
    expect(first).toMatchObject({ Service: 'worker', Inferences: 3, InferenceMs: 120 });
    const failure = JSON.parse(lines[1]!) as { _aws: { CloudWatchMetrics: { Dimensions: string[][] }[] }; Reason: string; Failures: number };
    expect(failure._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['Service', 'Reason']]);
    expect(failure).toMatchObject({ Reason: 'not_an_image', Failures: 1 });
    expect(metrics.total('Inferences')).toBe(3);
    expect(metrics.total('Failures{Reason=not_an_image}')).toBe(2);
  });
});

/**
 * Metrics as CloudWatch Embedded Metric Format lines (one JSON object per line on stdout): CloudWatch
 * Logs turns them into metrics with no API calls. Each emitted value is also counted in memory
 * (`totals`) so tests and benchmarks can read them.
 */
export type MetricUnit = 'Count' | 'Milliseconds';

export const METRICS = {
  imagesProcessed: 'ImagesProcessed',
  cacheHits: 'CaptionCacheHits',
  inferences: 'Inferences',
  inferenceMs: 'InferenceMs',
  queueWaitMs: 'QueueWaitMs',
  failures: 'Failures',
  questionsAnswered: 'QuestionsAnswered',
  imagesRemoved: 'ImagesRemoved',
} as const;

export type MetricName = (typeof METRICS)[keyof typeof METRICS];

export interface MetricsOptions {
  namespace?: string;
  service: string;
  /** Where EMF lines go; default process.stdout. `null` turns output off (totals are still kept). */
  sink?: ((line: string) => void) | null;
}

export class Metrics {
  readonly totals = new Map<string, number>();
  private readonly namespace: string;
  private readonly service: string;
  private readonly sink: ((line: string) => void) | null;

  constructor(options: MetricsOptions) {
    this.namespace = options.namespace ?? 'blipline';
    this.service = options.service;
    this.sink = options.sink === undefined ? (line) => process.stdout.write(`${line}\n`) : options.sink;
  }

  /** Emits one EMF line with the given values; `dimensions` adds e.g. `{ Reason: 'not_an_image' }`. */
  emit(values: Partial<Record<MetricName, number>>, unitOf: Partial<Record<MetricName, MetricUnit>> = {}, dimensions: Record<string, string> = {}): void {
    const entries = Object.entries(values) as [MetricName, number][];
    if (entries.length === 0) return;
    for (const [name, value] of entries) {
      const key = Object.keys(dimensions).length === 0 ? name : `${name}{${Object.entries(dimensions).map(([k, v]) => `${k}=${v}`).join(',')}}`;
      this.totals.set(key, (this.totals.get(key) ?? 0) + value);
    }
    if (this.sink === null) return;
    const dimensionNames = ['Service', ...Object.keys(dimensions)];
    this.sink(
      JSON.stringify({
        _aws: {
          Timestamp: Date.now(),
          CloudWatchMetrics: [
            {
              Namespace: this.namespace,
              Dimensions: [dimensionNames],
              Metrics: entries.map(([name]) => ({ Name: name, Unit: unitOf[name] ?? (name.endsWith('Ms') ? 'Milliseconds' : 'Count') })),
            },
          ],
        },
        Service: this.service,
        ...dimensions,
        ...Object.fromEntries(entries),
      }),
    );
  }

  count(name: MetricName, value = 1, dimensions: Record<string, string> = {}): void {
    this.emit({ [name]: value }, {}, dimensions);
  }

  total(name: string): number {
    return this.totals.get(name) ?? 0;
  }
}

import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../lib/config.js';
import { StackConfigError } from '../../lib/errors.js';

describe('stack props', () => {
  it('documents defaults that resolve to the chosen settings', () => {
    const c = resolveConfig();
    expect(c).toMatchObject({
      allowedOrigins: [],
      notificationPrefix: '',
      uploadExpiresSeconds: 60,
      droppedObjectDays: 30,
      accessLogDays: 90,
      uploadRetentionDays: 30,
      maxUploadBytes: 10_485_760,
      captionModel: 'Salesforce/blip-image-captioning-base',
      vqaModel: 'Salesforce/blip-vqa-base',
      precision: 'int8',
      workerCpu: 2048,
      workerMemoryMiB: 4096,
      workerDecoderRows: 8,
      workerArchitecture: 'x86_64',
      visibilityTimeoutSeconds: 90,
      stopTimeoutSeconds: 120,
      maxReceiveCount: 5,
      dataRemovalPolicy: RemovalPolicy.RETAIN,
    });
    expect(c.scaling).toMatchObject({ maxTasks: 10, targetBacklogPerTask: 60, scaleInIdleMinutes: 10, coldStart: 'tiered' });
  });

  it('sizes the visibility timeout from the worst-case job time', () => {
    expect(resolveConfig({ worstCaseJobTime: Duration.seconds(45) }).visibilityTimeoutSeconds).toBe(135);
    expect(resolveConfig({ worstCaseJobTime: Duration.seconds(5) }).visibilityTimeoutSeconds).toBe(30);
  });

  const rejects: [string, Parameters<typeof resolveConfig>[0], RegExp][] = [
    ['a job longer than the stop timeout allows', { worstCaseJobTime: Duration.seconds(110) }, /worstCaseJobTime .*make jobs shorter .*or give tasks more vCPUs/],
    ['an origin with a path', { allowedOrigins: ['https://example.com/app'] }, /allowedOrigins entry "https:\/\/example.com\/app" is not an origin; use scheme:\/\/host/],
    ['memory that does not fit the CPU', { workerCpu: 2048, workerMemoryMiB: 2048 }, /workerMemoryMiB 2048 is not a valid Fargate size for workerCpu 2048/],
    ['an unknown CPU size', { workerCpu: 3000 }, /workerCpu must be one of 1024, 2048, 4096, 8192/],
    ['a model that is not a Hub id', { captionModel: 'blip' }, /captionModel "blip" is not a Hugging Face Hub id; use 'owner\/name'/],
    ['zero tasks', { scaling: { maxTasks: 0 } }, /scaling\.maxTasks must be an integer from 1 to 1000/],
    ['a latency below one image', { scaling: { acceptableLatency: Duration.millis(500) } }, /scaling\.acceptableLatency .* raise acceptableLatency or lower secondsPerImage/],
    ['a fractional idle window', { scaling: { scaleInIdle: Duration.seconds(90) } }, /scaling\.scaleInIdle must be whole minutes/],
    ['a prefix with a leading slash', { notificationPrefix: '/uploads/' }, /notificationPrefix must not start with '\/'/],
    ['a bad e-mail', { alarmEmail: 'ops' }, /alarmEmail "ops" is not an e-mail address/],
    ['presigned URLs over 7 days', { uploadExpires: Duration.days(8) }, /uploadExpires must be an integer from 1 to 604800/],
  ];
  it.each(rejects)('rejects %s with a message saying what to change', (_name, props, message) => {
    let error: unknown;
    try {
      resolveConfig(props);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StackConfigError);
    expect((error as StackConfigError).code).toBe('invalid_stack_props');
    expect((error as Error).message).toMatch(message);
  });
});

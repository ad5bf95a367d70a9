import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { EventBridgePublisher, PublishError } from '../../services/aws/result-publisher.js';
import type { ImageRecord } from '../../services/core/records.js';
import { imageResultEvent } from '../../services/core/result-events.js';

// EventBridge has no local emulator here, and a partial PutEvents failure cannot be provoked on the real service:
// the client is mocked for exactly these answers.
const eventBridge = mockClient(EventBridgeClient);
afterEach(() => eventBridge.reset());

const at = '2026-12-03T08:00:00.000Z';
const record: ImageRecord = { imageId: 'img', owner: 'alice', status: 'done', model: 'm', objectKey: 'uploads/img', caption: 'a cat', sequencer: '1'.repeat(32), createdAt: at, updatedAt: at };
const event = imageResultEvent(record, 'bucket')!;
const failedEntry = { FailedEntryCount: 1, Entries: [{ ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' }] };

describe('EventBridgePublisher', () => {
  it('puts one entry: source blipline, the detail-type, the detail as JSON, the object ARN, the bus', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e' }] });
    await new EventBridgePublisher(new EventBridgeClient({ region: 'eu-west-1' }), 'blipline-bus').publish(event);
    const calls = eventBridge.commandCalls(PutEventsCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input.Entries).toEqual([
      { Source: 'blipline', DetailType: 'Image Captioned', Detail: JSON.stringify(event.detail), Resources: ['arn:aws:s3:::bucket/uploads/img'], EventBusName: 'blipline-bus' },
    ]);
  });

  it('on the default bus names none', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e' }] });
    await new EventBridgePublisher(new EventBridgeClient({ region: 'eu-west-1' }), undefined).publish(event);
    expect(eventBridge.commandCalls(PutEventsCommand)[0]!.args[0].input.Entries?.[0]).not.toHaveProperty('EventBusName');
  });

  it('puts an entry reported failed again, and succeeds when a later put takes it', async () => {
    eventBridge.on(PutEventsCommand).resolvesOnce(failedEntry).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e' }] });
    await new EventBridgePublisher(new EventBridgeClient({ region: 'eu-west-1' }), 'bus', { backoffMs: 1 }).publish(event);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(2);
  });

  it('fails with the reason when every attempt reports the entry failed (FailedEntryCount), so the job is retried', async () => {
    eventBridge.on(PutEventsCommand).resolves(failedEntry);
    const publishing = new EventBridgePublisher(new EventBridgeClient({ region: 'eu-west-1' }), 'bus', { attempts: 3, backoffMs: 1 }).publish(event);
    await expect(publishing).rejects.toThrow(PublishError);
    await expect(publishing).rejects.toThrow(/3 times \(ThrottlingException: slow down\)/);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(3);
  });
});

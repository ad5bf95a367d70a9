import { DeleteCommand, GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PK } from '../core/keys.js';
import {
  captionRecordSchema,
  imageRecordSchema,
  objectRecordSchema,
  questionRecordSchema,
  type CaptionRecord,
  type DoneCaption,
  type ImageRecord,
  type ObjectRecord,
  type QuestionRecord,
  type QuestionStatus,
  type RecordError,
} from '../core/records.js';
import { RecordConflictError } from './errors.js';

type Item = Record<string, unknown>;

/**
 * The model part of a caption's dedup key: a plain name, or `{name, key}` where `key` also names the
 * precision and checkpoint (`captionModelKey` in core/keys.ts) and `name` is the record's readable `model`.
 */
export type CaptionModel = string | { name: string; key: string };
const captionModel = (m: CaptionModel): { name: string; key: string } => (typeof m === 'string' ? { name: m, key: m } : m);

function isConditionFailure(error: unknown): boolean {
  return (error as { name?: string })?.name === 'ConditionalCheckFailedException';
}

/** Builds `SET a = :a, ... REMOVE b` with every attribute name aliased (many are reserved words). */
function update(set: Item, remove: string[] = [], setIfNotExists: Item = {}) {
  const names: Record<string, string> = {};
  const values: Item = {};
  const parts: string[] = [];
  for (const [k, v] of Object.entries(set)) {
    if (v === undefined) continue;
    names[`#${k}`] = k;
    values[`:${k}`] = v;
    parts.push(`#${k} = :${k}`);
  }
  for (const [k, v] of Object.entries(setIfNotExists)) {
    names[`#${k}`] = k;
    values[`:${k}`] = v;
    parts.push(`#${k} = if_not_exists(#${k}, :${k})`);
  }
  let expression = `SET ${parts.join(', ')}`;
  if (remove.length > 0) {
    for (const k of remove) names[`#${k}`] = k;
    expression += ` REMOVE ${remove.map((k) => `#${k}`).join(', ')}`;
  }
  return { UpdateExpression: expression, ExpressionAttributeNames: names, ExpressionAttributeValues: values };
}

export type AcceptOutcome = 'accepted' | 'duplicate' | 'stale';

export type ClaimOutcome = { kind: 'claimed' } | { kind: 'done'; caption: DoneCaption } | { kind: 'busy'; leaseUntil: number };

export interface ImageResult {
  status: 'done' | 'failed';
  model: string;
  caption?: string;
  tokenIds?: number[];
  contentSha256?: string;
  contentType?: string;
  contentLength?: number;
  error?: RecordError;
  cacheHit?: boolean;
  timingsMs?: { queueMs?: number; inferenceMs?: number; totalMs?: number };
  captionKey?: string;
}

export type AddQuestionOutcome = 'added' | 'not_found' | 'quota_exceeded';

/**
 * The DynamoDB record store (one table, partition key `pk`, TTL attribute `ttl`). Every status
 * transition is a conditional write, so replays and concurrent workers cannot regress a record;
 * items whose `ttl` has passed are treated as absent (DynamoDB deletes them only eventually).
 */
export class RecordStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly table: string,
    private readonly options: { ttlDays: number; now?: () => number },
  ) {}

  private nowMs(): number {
    return this.options.now ? this.options.now() : Date.now();
  }

  private iso(): string {
    return new Date(this.nowMs()).toISOString();
  }

  private ttl(): number {
    return Math.floor(this.nowMs() / 1000) + this.options.ttlDays * 86_400;
  }

  private async get(pk: string): Promise<Item | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk }, ConsistentRead: true }));
    const item = out.Item;
    if (!item) return undefined;
    if (typeof item.ttl === 'number' && item.ttl < Math.floor(this.nowMs() / 1000)) return undefined;
    const { pk: _pk, ttl: _ttl, ...rest } = item;
    return rest;
  }

  // ---- images -------------------------------------------------------------------------------

  /** Creates the `awaiting_upload` record of an API upload (fails if the id exists). */
  async createUpload(input: { imageId: string; owner: string; objectKey: string; model: string; contentType: string; contentLength: number; filename?: string; prompt?: string }): Promise<ImageRecord> {
    const now = this.iso();
    const record: ImageRecord = imageRecordSchema.parse({ ...input, status: 'awaiting_upload', createdAt: now, updatedAt: now });
    await this.doc.send(
      new PutCommand({
        TableName: this.table,
        Item: { pk: PK.image(input.imageId), ttl: this.ttl(), ...record },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return record;
  }

  async getImage(imageId: string): Promise<ImageRecord | undefined> {
    const item = await this.get(PK.image(imageId));
    return item ? imageRecordSchema.parse(item) : undefined;
  }

  async getObject(objectKey: string): Promise<ObjectRecord | undefined> {
    const item = await this.get(PK.object(objectKey));
    return item ? objectRecordSchema.parse(item) : undefined;
  }

  /**
   * Accepts an ObjectCreated event and moves the image to `queued`. `duplicate`: this event was already fully
   * processed; `stale`: a newer event for the key has been accepted (or the key was removed later); a redelivery
   * of an event whose job died mid-way is `accepted`; `unknown_upload`: an `uploads/` key without an API upload
   * record (the prefix is the API's; such objects are not captioned).
   *
   * Dropped objects: the key maps to the image, newer sequencer wins. API uploads are one-shot: only the first
   * event of the key is accepted, so a replayed presigned PUT causes no second inference and never replaces
   * the caption.
   */
  async acceptObject(input: { imageId: string; objectKey: string; sequencer: string; model: string; upload: boolean }): Promise<AcceptOutcome | 'unknown_upload'> {
    const nowS = Math.floor(this.nowMs() / 1000);
    const now = this.iso();
    if (!input.upload) {
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.table,
            Item: { pk: PK.object(input.objectKey), ttl: this.ttl(), objectKey: input.objectKey, imageId: input.imageId, sequencer: input.sequencer, updatedAt: now },
            ConditionExpression: 'attribute_not_exists(pk) OR #ttl < :nowS OR #sequencer <= :seq',
            ExpressionAttributeNames: { '#ttl': 'ttl', '#sequencer': 'sequencer' },
            ExpressionAttributeValues: { ':nowS': nowS, ':seq': input.sequencer },
          }),
        );
      } catch (error) {
        if (isConditionFailure(error)) return 'stale';
        throw error;
      }
    }
    const u = update(
      { imageId: input.imageId, status: 'queued', objectKey: input.objectKey, sequencer: input.sequencer, model: input.model, updatedAt: now, ttl: this.ttl() },
      ['caption', 'tokenIds', 'contentSha256', 'error', 'cacheHit', 'timingsMs', 'captionKey'],
      { createdAt: now },
    );
    const redelivery = '(#sequencer = :sequencer AND (#status IN (:sQueued, :sProcessing) OR #error.#code = :processingError))';
    const condition = input.upload
      ? `attribute_exists(pk) AND #ttl >= :nowS AND (#status = :sAwaiting OR ${redelivery})`
      : `attribute_not_exists(pk) OR #ttl < :nowS OR attribute_not_exists(#sequencer) OR #sequencer < :sequencer OR ${redelivery}`;
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: PK.image(input.imageId) },
          ...u,
          ConditionExpression: condition,
          ExpressionAttributeNames: { ...u.ExpressionAttributeNames, '#error': 'error', '#code': 'code' },
          ExpressionAttributeValues: {
            ...u.ExpressionAttributeValues,
            ':nowS': nowS,
            ':sQueued': 'queued',
            ':sProcessing': 'processing',
            ':processingError': 'processing_error',
            ...(input.upload ? { ':sAwaiting': 'awaiting_upload' } : {}),
          },
        }),
      );
      return 'accepted';
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const current = await this.getImage(input.imageId);
      if (input.upload && current === undefined) return 'unknown_upload';
      if (current?.sequencer !== undefined && current.sequencer > input.sequencer) return 'stale';
      return 'duplicate';
    }
  }

  /**
   * An ObjectRemoved event of a dropped object's key: leaves a tombstone (the key, the removal's sequencer, no
   * image) so older events of the key arriving later are stale. Returns the image id the key held, or undefined
   * when a newer event owns the key (it was written again) or the key held nothing.
   */
  async removeObject(objectKey: string, sequencer: string): Promise<string | undefined> {
    try {
      const out = await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: PK.object(objectKey), ttl: this.ttl(), objectKey, sequencer, removed: true, updatedAt: this.iso() },
          ConditionExpression: 'attribute_not_exists(pk) OR #sequencer <= :seq',
          ExpressionAttributeNames: { '#sequencer': 'sequencer' },
          ExpressionAttributeValues: { ':seq': sequencer },
          ReturnValues: 'ALL_OLD',
        }),
      );
      const old = out.Attributes;
      return old && old.removed !== true && typeof old.imageId === 'string' ? old.imageId : undefined;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /**
   * Files a question under its image: appends its id and counts it against the per-image quota, in one
   * conditional write that also checks who may ask (`owner`; undefined: the image must be a dropped object's).
   */
  async addQuestion(imageId: string, questionId: string, owner: string | undefined, maxPerImage: number): Promise<AddQuestionOutcome> {
    const ownerCondition = owner === undefined ? 'attribute_not_exists(#owner)' : '#owner = :owner';
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: PK.image(imageId) },
          UpdateExpression: 'SET #questionIds = list_append(if_not_exists(#questionIds, :empty), :ids), #questionCount = if_not_exists(#questionCount, :zero) + :one',
          ConditionExpression: `attribute_exists(pk) AND ${ownerCondition} AND (attribute_not_exists(#questionCount) OR #questionCount < :max)`,
          ExpressionAttributeNames: { '#questionIds': 'questionIds', '#questionCount': 'questionCount', '#owner': 'owner' },
          ExpressionAttributeValues: { ':empty': [], ':ids': [questionId], ':zero': 0, ':one': 1, ':max': maxPerImage, ...(owner === undefined ? {} : { ':owner': owner }) },
        }),
      );
      return 'added';
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const current = await this.getImage(imageId);
      return current !== undefined && current.owner === owner ? 'quota_exceeded' : 'not_found';
    }
  }

  /**
   * Deletes an image's items: its questions, the caption item its caption came from, its object mapping (dropped
   * objects) and the image record last, so a failure half-way leaves a record to delete again.
   */
  async deleteImage(image: ImageRecord): Promise<void> {
    const keys = [
      ...(image.questionIds ?? []).map((q) => PK.question(image.imageId, q)),
      ...(image.captionKey ? [image.captionKey] : []),
      ...(image.owner === undefined ? [PK.object(image.objectKey)] : []),
    ];
    await Promise.all(keys.map((pk) => this.doc.send(new DeleteCommand({ TableName: this.table, Key: { pk } }))));
    await this.doc.send(new DeleteCommand({ TableName: this.table, Key: { pk: PK.image(image.imageId) } }));
  }

  /** queued -> processing for the event `sequencer`; false when a newer event took the record over. */
  async markProcessing(imageId: string, sequencer: string): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: PK.image(imageId) },
          UpdateExpression: 'SET #status = :processing, #updatedAt = :now',
          ConditionExpression: '#sequencer = :seq AND #status IN (:queued, :processing)',
          ExpressionAttributeNames: { '#status': 'status', '#updatedAt': 'updatedAt', '#sequencer': 'sequencer' },
          ExpressionAttributeValues: { ':processing': 'processing', ':queued': 'queued', ':now': this.iso(), ':seq': sequencer },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /**
   * Writes the final state for the event `sequencer`. Idempotent: if the record is already final for
   * this sequencer it is returned unchanged; 'superseded' when a newer event owns the record.
   */
  async finishImage(imageId: string, sequencer: string, result: ImageResult): Promise<ImageRecord | 'superseded'> {
    const u = update({ ...result, updatedAt: this.iso() }, result.status === 'done' ? ['error'] : ['caption', 'tokenIds']);
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: PK.image(imageId) },
          ...u,
          ConditionExpression: '#sequencer = :sequencer AND #status IN (:queued, :processing)',
          ExpressionAttributeNames: { ...u.ExpressionAttributeNames, '#sequencer': 'sequencer' },
          ExpressionAttributeValues: { ...u.ExpressionAttributeValues, ':sequencer': sequencer, ':queued': 'queued', ':processing': 'processing' },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const { pk: _pk, ttl: _ttl, ...rest } = out.Attributes ?? {};
      return imageRecordSchema.parse(rest);
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const current = await this.getImage(imageId);
      if (current && current.sequencer === sequencer && (current.status === 'done' || current.status === 'failed')) return current;
      return 'superseded';
    }
  }

  // ---- captions by content hash --------------------------------------------------------------

  async getCaption(model: CaptionModel, sha256: string, prompt?: string): Promise<CaptionRecord | undefined> {
    const item = await this.get(PK.caption(captionModel(model).key, sha256, prompt));
    if (!item) return undefined;
    const { prompt: _prompt, ...rest } = item;
    return captionRecordSchema.parse(rest);
  }

  /**
   * Claims the inference of (model, content, prompt) for `owner` for `leaseMs`. Exactly one worker
   * wins while a claim is live; an expired claim (its worker died) can be taken over.
   */
  async claimCaption(model: CaptionModel, sha256: string, prompt: string | undefined, owner: string, leaseMs: number): Promise<ClaimOutcome> {
    const { name, key } = captionModel(model);
    const nowMs = this.nowMs();
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: PK.caption(key, sha256, prompt), ttl: this.ttl(), state: 'pending', model: name, modelKey: key, contentSha256: sha256, prompt, owner, leaseUntil: nowMs + leaseMs },
          ConditionExpression: 'attribute_not_exists(pk) OR #ttl < :nowS OR (#state = :pending AND (#leaseUntil < :nowMs OR #owner = :owner))',
          ExpressionAttributeNames: { '#ttl': 'ttl', '#state': 'state', '#leaseUntil': 'leaseUntil', '#owner': 'owner' },
          ExpressionAttributeValues: { ':nowS': Math.floor(nowMs / 1000), ':pending': 'pending', ':nowMs': nowMs, ':owner': owner },
        }),
      );
      return { kind: 'claimed' };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const current = await this.getCaption(model, sha256, prompt);
      if (current?.state === 'done') return { kind: 'done', caption: current };
      if (current?.state === 'pending') return { kind: 'busy', leaseUntil: current.leaseUntil };
      // Vanished or expired between the write and the read: try once more.
      return this.claimCaption(model, sha256, prompt, owner, leaseMs);
    }
  }

  /** Extends a live claim (heartbeat); false when the claim is no longer ours. */
  renewCaptionClaim(model: CaptionModel, sha256: string, prompt: string | undefined, owner: string, leaseMs: number): Promise<boolean> {
    return this.setClaimLease(model, sha256, prompt, owner, this.nowMs() + leaseMs);
  }

  /** Gives a claim up (the inference failed) so another delivery can take it at once. */
  async releaseCaptionClaim(model: CaptionModel, sha256: string, prompt: string | undefined, owner: string): Promise<void> {
    await this.setClaimLease(model, sha256, prompt, owner, 0);
  }

  private async setClaimLease(model: CaptionModel, sha256: string, prompt: string | undefined, owner: string, until: number): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: PK.caption(captionModel(model).key, sha256, prompt) },
          UpdateExpression: 'SET #leaseUntil = :until',
          ConditionExpression: '#state = :pending AND #owner = :owner',
          ExpressionAttributeNames: { '#leaseUntil': 'leaseUntil', '#state': 'state', '#owner': 'owner' },
          ExpressionAttributeValues: { ':until': until, ':pending': 'pending', ':owner': owner },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /** Stores the finished caption once; if another worker stored it first, theirs is returned. */
  async completeCaption(model: CaptionModel, sha256: string, prompt: string | undefined, result: { text: string; tokenIds: number[]; inferenceMs: number }): Promise<DoneCaption> {
    const { name, key } = captionModel(model);
    const caption: DoneCaption = { state: 'done', model: name, contentSha256: sha256, text: result.text, tokenIds: result.tokenIds, inferenceMs: result.inferenceMs, createdAt: this.iso() };
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: PK.caption(key, sha256, prompt), ttl: this.ttl(), prompt, modelKey: key, ...caption },
          ConditionExpression: 'attribute_not_exists(pk) OR #state = :pending OR #ttl < :nowS',
          ExpressionAttributeNames: { '#state': 'state', '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':pending': 'pending', ':nowS': Math.floor(this.nowMs() / 1000) },
        }),
      );
      return caption;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const current = await this.getCaption(model, sha256, prompt);
      if (current?.state === 'done') return current;
      throw new RecordConflictError(`caption ${sha256} for ${model} could not be stored`, { cause: error });
    }
  }

  // ---- questions ----------------------------------------------------------------------------

  async createQuestion(input: { imageId: string; questionId: string; question: string; owner?: string }): Promise<QuestionRecord> {
    const now = this.iso();
    const record = questionRecordSchema.parse({ ...input, status: 'queued', createdAt: now, updatedAt: now });
    await this.doc.send(
      new PutCommand({
        TableName: this.table,
        Item: { pk: PK.question(input.imageId, input.questionId), ttl: this.ttl(), ...record },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return record;
  }

  async getQuestion(imageId: string, questionId: string): Promise<QuestionRecord | undefined> {
    const item = await this.get(PK.question(imageId, questionId));
    return item ? questionRecordSchema.parse(item) : undefined;
  }

  /** Moves a question on from one of `from`; returns the new record, or undefined when it was not in `from`. */
  async updateQuestion(
    imageId: string,
    questionId: string,
    from: QuestionStatus[],
    patch: { status: QuestionStatus; answer?: string; tokenIds?: number[]; model?: string; error?: RecordError },
  ): Promise<QuestionRecord | undefined> {
    const u = update({ ...patch, updatedAt: this.iso() });
    const fromValues = Object.fromEntries(from.map((s, i) => [`:from${i}`, s]));
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: PK.question(imageId, questionId) },
          ...u,
          ConditionExpression: `attribute_exists(pk) AND #status IN (${Object.keys(fromValues).join(', ')})`,
          ExpressionAttributeNames: { ...u.ExpressionAttributeNames, '#status': 'status' },
          ExpressionAttributeValues: { ...u.ExpressionAttributeValues, ...fromValues },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const { pk: _pk, ttl: _ttl, ...rest } = out.Attributes ?? {};
      return questionRecordSchema.parse(rest);
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }
}

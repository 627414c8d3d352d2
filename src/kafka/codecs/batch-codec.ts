import { ValidationError } from '../../domain/errors.js';
import type { Batch, BatchMember } from '../../domain/events/batch.js';
import { Batch as FbBatch } from './fb/batch.js';
import { BatchMember as FbMember } from './fb/batch-member.js';
import { builderFor, checkBounds, createAlignedBytes, createShape, fromFbDType, readFlatbuffer, readShape, toFbDType, validateShape } from './tensor-codec.js';

/** Encodes a batch; its data must already be the contiguous [N, ...] buffer. */
export function encodeBatch(batch: Batch): Uint8Array {
  validateShape(batch.dtype, batch.shape, batch.data.byteLength);
  if (batch.shape[0] !== batch.members.length) {
    throw new ValidationError(`batch ${batch.batchId}: first dimension ${batch.shape[0]} but ${batch.members.length} members`);
  }
  const builder = builderFor(batch.data.byteLength + 256 * batch.members.length);
  const data = createAlignedBytes(builder, batch.data, 64);
  const shape = createShape(builder, batch.shape);
  const members = batch.members.map((m) => {
    const fields = [m.requestId, m.tenant, m.sloClass, m.replyTo, m.traceparent].map((s) => builder.createString(s));
    FbMember.startBatchMember(builder);
    FbMember.addRequestId(builder, fields[0]!);
    FbMember.addTenant(builder, fields[1]!);
    FbMember.addSloClass(builder, fields[2]!);
    FbMember.addDeadlineMs(builder, BigInt(m.deadlineMs));
    FbMember.addSubmittedAtMs(builder, BigInt(m.submittedAtMs));
    FbMember.addReplyTo(builder, fields[3]!);
    FbMember.addTraceparent(builder, fields[4]!);
    return FbMember.endBatchMember(builder);
  });
  const membersVector = FbBatch.createMembersVector(builder, members);
  const [id, model, version, worker, device] = [batch.batchId, batch.model, batch.modelVersion, batch.workerId, batch.deviceUuid].map((s) => builder.createString(s));
  FbBatch.startBatch(builder);
  FbBatch.addBatchId(builder, id!);
  FbBatch.addModel(builder, model!);
  FbBatch.addModelVersion(builder, version!);
  FbBatch.addWorkerId(builder, worker!);
  FbBatch.addWorkerEpoch(builder, BigInt(batch.workerEpoch));
  FbBatch.addDeviceUuid(builder, device!);
  FbBatch.addFormedAtMs(builder, BigInt(batch.formedAtMs));
  FbBatch.addMembers(builder, membersVector);
  FbBatch.addDtype(builder, toFbDType(batch.dtype));
  FbBatch.addShape(builder, shape);
  FbBatch.addData(builder, data);
  builder.finish(FbBatch.endBatch(builder), 'GFBT');
  return builder.asUint8Array();
}

/** Decodes a batch; `data` is a view into `bytes`, never a copy. */
export function decodeBatch(bytes: Uint8Array): Batch {
  return readFlatbuffer('batch', bytes, 'GFBT', (bb) => {
    const fb = FbBatch.getRootAsBatch(bb);
    const dtype = fromFbDType(fb.dtype());
    const shape = readShape(fb.shapeLength(), (i) => fb.shape(i));
    const length = fb.dataLength();
    const data = fb.dataArray() ?? new Uint8Array(0);
    checkBounds('batch data', data.byteOffset - bytes.byteOffset, length, bytes.byteLength);
    validateShape(dtype, shape, data.byteLength);
    const count = fb.membersLength();
    if (count !== shape[0]) throw new ValidationError(`batch: first dimension ${shape[0]} but ${count} members`);
    const members: BatchMember[] = [];
    for (let i = 0; i < count; i++) {
      const m = fb.members(i);
      if (!m) throw new ValidationError(`batch: member ${i} missing`);
      members.push({
        requestId: m.requestId() ?? '',
        tenant: m.tenant() ?? '',
        sloClass: m.sloClass() ?? '',
        deadlineMs: Number(m.deadlineMs()),
        submittedAtMs: Number(m.submittedAtMs()),
        replyTo: m.replyTo() ?? '',
        traceparent: m.traceparent() ?? '',
      });
    }
    return {
      batchId: fb.batchId() ?? '',
      model: fb.model() ?? '',
      modelVersion: fb.modelVersion() ?? '',
      workerId: fb.workerId() ?? '',
      workerEpoch: Number(fb.workerEpoch()),
      deviceUuid: fb.deviceUuid() ?? '',
      formedAtMs: Number(fb.formedAtMs()),
      members,
      dtype,
      shape,
      data,
    };
  });
}

/**
 * Which worker incarnation a batch is for, read without decoding its members: every worker reads
 * every batch, and decodes only its own.
 */
export function batchAddress(bytes: Uint8Array): { workerId: string; workerEpoch: number } {
  return readFlatbuffer('batch', bytes, 'GFBT', (bb) => {
    const fb = FbBatch.getRootAsBatch(bb);
    return { workerId: fb.workerId() ?? '', workerEpoch: Number(fb.workerEpoch()) };
  });
}

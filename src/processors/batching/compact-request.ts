/**
 * What a queued request costs the process that holds it. Under a backlog a million requests may
 * wait, and as decoded each brings strings of its own (model, tenant, reply topic, ...) and, once
 * its input is copied out of the Kafka fetch buffer, a typed array and an ArrayBuffer of its own:
 * together several times the request's own data. A compactor keeps instead
 * - one copy of each repeated string: requests of one model and tenant share theirs;
 * - input rows packed into shared slabs, one small object per row that reads its bytes from the
 *   slab. A slab is freed by the garbage collector with the last row that uses it, so a request
 *   that waits long keeps its slab (SLAB_BYTES at most) alive: the price of not tracking rows one
 *   by one;
 * - what the dispatcher holds for the request until it is finished (`HeldRequest`) as one object
 *   that is also the request: its fields, its row's place, its ack as who-and-offset, its span.
 *
 * @example
 * const compact = createRequestCompactor();
 * const request = compact.request(decoded);          // strings shared, tensor bytes dropped
 * const tensor = compact.tensor(decodeTensor(decoded.tensor)); // its own copy, in a slab
 * const held = compact.held(request, tensor, delivery.acks, Number(delivery.offset), span);
 * core.admit({ ref, request: held, held }); // the held object is the request too
 * held.ack(); // when the request is finished
 */
import type { InferenceRequest, SloClass } from '../../domain/events/request.js';
import type { DType, Tensor } from '../../domain/events/tensor.js';

/** Bytes per slab: 64 rows of 256 bytes. Rows over a quarter of it get an allocation of their own. */
export const SLAB_BYTES = 16 * 1024;

/** Distinct strings kept at most; a table that fills up starts again (a bound, not a cache policy). */
const MAX_STRINGS = 4096;

const EMPTY = new Uint8Array(0);

/** The dtype and shape many rows share, and their size. */
interface Layout {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly bytes: number;
}

/** A row's bytes in a slab, read as a Tensor: `data` is a view made when asked for. */
class PackedTensor implements Tensor {
  constructor(
    readonly layout: Layout,
    readonly slab: Uint8Array,
    readonly at: number,
  ) {}

  get dtype(): DType {
    return this.layout.dtype;
  }

  get shape(): readonly number[] {
    return this.layout.shape;
  }

  get data(): Uint8Array {
    return this.slab.subarray(this.at, this.at + this.layout.bytes);
  }
}

/** Acks a message by its offset: the Kafka source's partition tracker, as the shell passes it. */
export interface OffsetAcks {
  release(offset: number): void;
}

/**
 * A queued request as the dispatcher holds it until it is finished, in one object: the request
 * itself (its fields are its own, so the batcher and the scheduler read it as the request), its
 * row's place, its ack as who-and-offset, and its span. Its row and its ack are made when asked
 * for, so a million queued requests are not also a million requests beside their holders, row
 * objects and bound functions. `S` is the request's span.
 */
export class HeldRequest<S> implements InferenceRequest {
  readonly requestId: string;
  readonly model: string;
  readonly modelVersion: string;
  readonly tenant: string;
  readonly sloClass: SloClass;
  readonly deadlineMs: number;
  readonly submittedAtMs: number;
  readonly replyTo: string;
  readonly traceparent: string;
  /** The request's tensor bytes are not kept here: `row` has them. */
  readonly tensor: Uint8Array = EMPTY;

  constructor(
    request: InferenceRequest,
    private readonly layout: Layout,
    private readonly slab: Uint8Array,
    private readonly at: number,
    private readonly acks: OffsetAcks,
    private readonly offset: number,
    readonly span: S,
  ) {
    this.requestId = request.requestId;
    this.model = request.model;
    this.modelVersion = request.modelVersion;
    this.tenant = request.tenant;
    this.sloClass = request.sloClass;
    this.deadlineMs = request.deadlineMs;
    this.submittedAtMs = request.submittedAtMs;
    this.replyTo = request.replyTo;
    this.traceparent = request.traceparent;
  }

  /** The request (this object). */
  get request(): InferenceRequest {
    return this;
  }

  /** The request's input row. */
  get row(): Tensor {
    return new PackedTensor(this.layout, this.slab, this.at);
  }

  /** Marks the request's message handled (idempotent, as the source's ack is). */
  get ack(): () => void {
    return this.acks.release.bind(this.acks, this.offset);
  }
}

export interface RequestCompactor {
  /** The request with its repeated strings shared and its tensor bytes dropped (they are kept apart). */
  request(received: InferenceRequest): InferenceRequest;
  /** An own copy of the tensor's bytes, not pinning the buffer they came in. */
  tensor(view: Tensor): Tensor;
  /**
   * What to hold for a request until it is finished: the request (from `request()`) and what goes
   * with it, in one object that is also the request. `tensor` from `tensor()` is not copied again.
   */
  held<S>(request: InferenceRequest, tensor: Tensor, acks: OffsetAcks, offset: number, span: S): HeldRequest<S>;
}

export function createRequestCompactor(slabBytes = SLAB_BYTES): RequestCompactor {
  const strings = new Map<string, string>();
  const intern = (s: string): string => {
    const known = strings.get(s);
    if (known !== undefined) return known;
    if (strings.size >= MAX_STRINGS) strings.clear();
    strings.set(s, s);
    return s;
  };

  const layouts: Layout[] = [];
  let last: Layout | null = null;
  const layoutOf = (dtype: DType, shape: readonly number[], bytes: number): Layout => {
    if (last !== null && matches(last, dtype, shape, bytes)) return last;
    last = layouts.find((l) => matches(l, dtype, shape, bytes)) ?? null;
    if (last === null) {
      // Few layouts ever exist (one per model input); a flood of odd shapes only restarts the list.
      if (layouts.length >= 64) layouts.length = 0;
      last = { dtype, shape: Object.freeze([...shape]), bytes };
      layouts.push(last);
    }
    return last;
  };

  let slab = new Uint8Array(slabBytes);
  let used = 0;

  const pack = (view: Tensor): PackedTensor => {
    const bytes = view.data.byteLength;
    const layout = layoutOf(view.dtype, view.shape, bytes);
    if (bytes * 4 > slabBytes) return new PackedTensor(layout, view.data.slice(), 0);
    if (used + bytes > slabBytes) {
      slab = new Uint8Array(slabBytes);
      used = 0;
    }
    const at = used;
    slab.set(view.data, at);
    // 8-byte steps keep every row as aligned as the slab, for views of wider element types.
    used += (bytes + 7) & ~7;
    return new PackedTensor(layout, slab, at);
  };

  return {
    request: (r) => ({
      requestId: r.requestId,
      model: intern(r.model),
      modelVersion: intern(r.modelVersion),
      tenant: intern(r.tenant),
      sloClass: r.sloClass,
      deadlineMs: r.deadlineMs,
      submittedAtMs: r.submittedAtMs,
      replyTo: intern(r.replyTo),
      traceparent: r.traceparent,
      tensor: EMPTY,
    }),
    tensor: pack,
    held(request, tensor, acks, offset, span) {
      const row = tensor instanceof PackedTensor ? tensor : pack(tensor);
      return new HeldRequest(request, row.layout, row.slab, row.at, acks, offset, span);
    },
  };
}

function matches(l: Layout, dtype: DType, shape: readonly number[], bytes: number): boolean {
  if (l.dtype !== dtype || l.bytes !== bytes || l.shape.length !== shape.length) return false;
  for (let i = 0; i < shape.length; i++) if (l.shape[i] !== shape[i]) return false;
  return true;
}

/**
 * A model served by any KServe v2 (Open Inference Protocol) server: Triton, MLServer, KServe.
 * Inputs go as JSON, or as raw little-endian bytes after the JSON header when the server lists
 * the `binary_tensor_data` extension in its metadata (Triton does; MLServer does not).
 * The manifest's weightsUri is the server's base URL, e.g. http://127.0.0.1:8080.
 */
import { performance } from 'node:perf_hooks';
import { DTYPE_BYTES, type DType, type ModelManifest, type Tensor } from '../../domain/events/index.js';
import { KServeRequestError, KServeUnavailableError, TensorMismatchError } from '../errors.js';
import { checkBatch, type ExecutionResult, type Executor } from './executor.js';

export interface KServeV2Options {
  fetch?: typeof fetch;
  /** Name the server knows the model by; the manifest's model name by default. */
  modelName?: string;
  inputName?: string;
  timeoutMs?: number;
  /** Force or forbid the binary tensor extension; by default it is used when the server lists it. */
  binary?: boolean;
}

interface V2Output {
  name: string;
  shape: number[];
  datatype: string;
  data?: unknown[];
  parameters?: { binary_data_size?: number };
}

const BINARY_EXTENSION = 'binary_tensor_data';

/** A typed array of the dtype over raw bytes, for JSON encoding of the values. */
function valuesOf(tensor: Tensor): number[] {
  const { data } = tensor;
  const copy = data.slice().buffer;
  switch (tensor.dtype) {
    case 'FP32':
      return Array.from(new Float32Array(copy));
    case 'INT32':
      return Array.from(new Int32Array(copy));
    case 'INT64':
      return Array.from(new BigInt64Array(copy), Number);
    case 'UINT8':
      return Array.from(data);
    case 'FP16':
      throw new TensorMismatchError('FP16 inputs need the binary tensor extension, which this server does not list');
  }
}

/** Output values from JSON or bytes into gpuflow's tensor; FP64 narrows to FP32, BOOL to UINT8. */
function toTensor(output: V2Output, binary: Uint8Array | undefined): Tensor {
  const shape = output.shape;
  const count = shape.reduce((a, b) => a * b, 1);
  const fromBinary = <T extends ArrayBufferView>(make: (b: ArrayBuffer) => T): T => make((binary as Uint8Array).slice().buffer);
  const wrap = (dtype: DType, arr: ArrayBufferView): Tensor => ({ dtype, shape, data: new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength) });
  const json = (): number[] => {
    if (!Array.isArray(output.data)) throw new KServeRequestError(200, `output '${output.name}' carries no data`);
    return output.data.flat(Infinity as 1).map(Number);
  };
  let tensor: Tensor;
  switch (output.datatype) {
    case 'FP32':
      tensor = wrap('FP32', binary ? fromBinary((b) => new Float32Array(b)) : Float32Array.from(json()));
      break;
    case 'FP64':
      tensor = wrap('FP32', Float32Array.from(binary ? fromBinary((b) => new Float64Array(b)) : json()));
      break;
    case 'INT32':
      tensor = wrap('INT32', binary ? fromBinary((b) => new Int32Array(b)) : Int32Array.from(json()));
      break;
    case 'INT64':
      tensor = wrap('INT64', binary ? fromBinary((b) => new BigInt64Array(b)) : BigInt64Array.from(json(), (v) => BigInt(Math.trunc(v))));
      break;
    case 'UINT8':
    case 'BOOL':
      tensor = wrap('UINT8', binary ? binary.slice() : Uint8Array.from(json()));
      break;
    default:
      throw new KServeRequestError(200, `output '${output.name}' has datatype ${output.datatype}, which gpuflow does not carry`);
  }
  if (tensor.data.byteLength !== count * DTYPE_BYTES[tensor.dtype]) {
    throw new KServeRequestError(200, `output '${output.name}' of shape [${shape.join(', ')}] carries ${tensor.data.byteLength} bytes`);
  }
  return tensor;
}

export class KServeV2Executor implements Executor {
  readonly simulated = false;
  private readonly fetch: typeof fetch;
  private readonly base: string;
  private readonly modelName: string;
  private useBinary = false;
  private ready = false;

  constructor(
    readonly manifest: ModelManifest,
    private readonly options: KServeV2Options = {},
  ) {
    this.fetch = options.fetch ?? globalThis.fetch;
    this.base = manifest.weightsUri.replace(/\/+$/, '');
    this.modelName = options.modelName ?? manifest.model;
  }

  /** Waits for nothing: checks once that the server and the model are ready, and what the server supports. */
  async load(): Promise<void> {
    const serverReady = await this.request('GET', '/v2/health/ready');
    if (serverReady.status !== 200) throw new KServeUnavailableError(`${this.base} is not ready (GET /v2/health/ready answered ${serverReady.status})`);
    const modelReady = await this.request('GET', `/v2/models/${encodeURIComponent(this.modelName)}/ready`);
    if (modelReady.status !== 200) {
      throw new KServeUnavailableError(`model '${this.modelName}' is not ready on ${this.base} (answered ${modelReady.status}: ${await errorText(modelReady)})`);
    }
    const metadata = await this.request('GET', '/v2');
    const extensions = metadata.ok ? (((await metadata.json()) as { extensions?: unknown }).extensions ?? []) : [];
    this.useBinary = this.options.binary ?? (Array.isArray(extensions) && extensions.includes(BINARY_EXTENSION));
    this.ready = true;
  }

  get binary(): boolean {
    return this.useBinary;
  }

  async execute(input: Tensor): Promise<ExecutionResult> {
    if (!this.ready) throw new RangeError(`${this.manifest.model}:${this.manifest.version} is not loaded`);
    checkBatch(this.manifest, input);
    const encodeStart = performance.now();
    const inputName = this.options.inputName ?? 'input-0';
    const header: Record<string, unknown> = { id: '', inputs: [{ name: inputName, shape: [...input.shape], datatype: input.dtype }] };
    let body: Uint8Array | string;
    const headers: Record<string, string> = {};
    if (this.useBinary) {
      (header.inputs as Record<string, unknown>[])[0]!.parameters = { binary_data_size: input.data.byteLength };
      header.parameters = { binary_data_output: true };
      const json = Buffer.from(JSON.stringify(header));
      body = Buffer.concat([json, input.data]);
      headers['Content-Type'] = 'application/octet-stream';
      headers['Inference-Header-Content-Length'] = String(json.byteLength);
    } else {
      (header.inputs as Record<string, unknown>[])[0]!.data = valuesOf(input);
      body = JSON.stringify(header);
      headers['Content-Type'] = 'application/json';
    }
    const sendStart = performance.now();
    const response = await this.request('POST', `/v2/models/${encodeURIComponent(this.modelName)}/infer`, body, headers);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const received = performance.now();
    if (!response.ok) throw new KServeRequestError(response.status, serverMessage(bytes));
    const headerLength = Number(response.headers.get('Inference-Header-Content-Length') ?? bytes.byteLength);
    let parsed: { outputs?: V2Output[] };
    try {
      parsed = JSON.parse(Buffer.from(bytes.subarray(0, headerLength)).toString('utf8')) as { outputs?: V2Output[] };
    } catch (cause) {
      throw new KServeRequestError(response.status, 'response is not KServe v2 JSON', { cause });
    }
    const output = parsed.outputs?.[0];
    if (!output) throw new KServeRequestError(response.status, 'response has no outputs');
    const size = output.parameters?.binary_data_size;
    const binary = size === undefined ? undefined : bytes.subarray(headerLength, headerLength + size);
    const tensor = toTensor(output, binary);
    const done = performance.now();
    return {
      output: tensor,
      timings: { transferUs: (sendStart - encodeStart + (done - received)) * 1000, computeUs: (received - sendStart) * 1000 },
      simulated: false,
    };
  }

  async unload(): Promise<void> {
    this.ready = false;
  }

  /** The model lives in the server's memory, not ours. */
  memoryEstimateBytes(batchSize: number): number {
    return this.manifest.memoryPerSampleBytes * batchSize;
  }

  private async request(method: string, path: string, body?: Uint8Array | string, headers: Record<string, string> = {}): Promise<Response> {
    const url = `${this.base}${path}`;
    try {
      const init: RequestInit = { method, headers, signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000) };
      if (body !== undefined) init.body = body;
      return await this.fetch(url, init);
    } catch (cause) {
      throw new KServeUnavailableError(`cannot reach inference server at ${url}`, { cause });
    }
  }
}

async function errorText(response: Response): Promise<string> {
  return serverMessage(new Uint8Array(await response.arrayBuffer()));
}

/** The server's own words: v2 `{"error": "..."}`, else the last line of a text body (a traceback's message). */
function serverMessage(bytes: Uint8Array): string {
  const text = Buffer.from(bytes).toString('utf8').trim();
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON: fall through to the text itself
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return (lines[lines.length - 1] ?? '').slice(0, 500) || '(empty body)';
}

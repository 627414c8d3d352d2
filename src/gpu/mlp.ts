/**
 * A multilayer perceptron, Linear → ReLU → … → Linear in fp32, stored the way PyTorch's
 * nn.Linear stores it: `layers.{i}.weight` is [out, in] row-major and `layers.{i}.bias` is
 * [out], so y = x · Wᵀ + b. The cpu forward here is the reference the GPU is checked against.
 */
import { seededRandom } from '../domain/random.js';
import { SafetensorsError } from './errors.js';
import { decodeSafetensors, encodeSafetensors, float32Of } from './safetensors.js';

export interface LinearLayer {
  inFeatures: number;
  outFeatures: number;
  /** [outFeatures, inFeatures], row-major. */
  weight: Float32Array;
  /** [outFeatures]. */
  bias: Float32Array;
}

export interface MlpWeights {
  layers: LinearLayer[];
}

export function mlpInputFeatures(mlp: MlpWeights): number {
  return (mlp.layers[0] as LinearLayer).inFeatures;
}

export function mlpOutputFeatures(mlp: MlpWeights): number {
  return (mlp.layers[mlp.layers.length - 1] as LinearLayer).outFeatures;
}

export function mlpParameterBytes(mlp: MlpWeights): number {
  return mlp.layers.reduce((sum, l) => sum + l.weight.byteLength + l.bias.byteLength, 0);
}

/** Reads and checks an MLP from safetensors bytes: layers numbered from 0, shapes chained. */
export function decodeMlp(bytes: Uint8Array): MlpWeights {
  const file = decodeSafetensors(bytes);
  const layers: LinearLayer[] = [];
  for (let i = 0; file.tensors.has(`layers.${i}.weight`); i++) {
    const w = float32Of(file, `layers.${i}.weight`);
    const b = float32Of(file, `layers.${i}.bias`);
    if (w.shape.length !== 2) throw new SafetensorsError(`layers.${i}.weight has shape [${w.shape.join(', ')}], expected [out, in]`);
    const [outFeatures, inFeatures] = w.shape as [number, number];
    if (b.shape.length !== 1 || b.shape[0] !== outFeatures) {
      throw new SafetensorsError(`layers.${i}.bias has shape [${b.shape.join(', ')}], expected [${outFeatures}]`);
    }
    const previous = layers[i - 1];
    if (previous && previous.outFeatures !== inFeatures) {
      throw new SafetensorsError(`layers.${i} takes ${inFeatures} features but layers.${i - 1} gives ${previous.outFeatures}`);
    }
    if (inFeatures === 0 || outFeatures === 0) throw new SafetensorsError(`layers.${i} has an empty dimension`);
    layers.push({ inFeatures, outFeatures, weight: w.values, bias: b.values });
  }
  if (layers.length === 0) throw new SafetensorsError('no tensor named layers.0.weight: not an MLP');
  const extra = [...file.tensors.keys()].filter((name) => !/^layers\.\d+\.(weight|bias)$/.test(name) || Number(name.split('.')[1]) >= layers.length);
  if (extra.length > 0) throw new SafetensorsError(`unexpected tensors in an MLP file: ${extra.join(', ')}`);
  return { layers };
}

export function encodeMlp(mlp: MlpWeights, metadata: Record<string, string> = {}): Uint8Array {
  return encodeSafetensors(
    mlp.layers.flatMap((l, i) => [
      { name: `layers.${i}.weight`, shape: [l.outFeatures, l.inFeatures], values: l.weight },
      { name: `layers.${i}.bias`, shape: [l.outFeatures], values: l.bias },
    ]),
    metadata,
  );
}

/** Deterministic weights for sizes like [64, 128, 10], uniform in ±1/√in as nn.Linear initialises. */
export function randomMlp(sizes: readonly number[], seed: number): MlpWeights {
  if (sizes.length < 2) throw new RangeError('an MLP needs at least an input and an output size');
  const random = seededRandom(seed);
  const layers: LinearLayer[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    const inFeatures = sizes[i] as number;
    const outFeatures = sizes[i + 1] as number;
    const bound = 1 / Math.sqrt(inFeatures);
    const weight = new Float32Array(inFeatures * outFeatures);
    for (let j = 0; j < weight.length; j++) weight[j] = (random.next() * 2 - 1) * bound;
    const bias = new Float32Array(outFeatures);
    for (let j = 0; j < bias.length; j++) bias[j] = (random.next() * 2 - 1) * bound;
    layers.push({ inFeatures, outFeatures, weight, bias });
  }
  return { layers };
}

/** Deterministic inputs in [-1, 1), [batch, features] row-major. */
export function randomInput(batch: number, features: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  const x = new Float32Array(batch * features);
  for (let i = 0; i < x.length; i++) x[i] = random.next() * 2 - 1;
  return x;
}

/**
 * The forward pass on the CPU: each dot product accumulates in float64 and is rounded to
 * float32 once per layer output, so on weights and inputs that are exact in fp32 the result
 * is exact.
 */
export function mlpForwardCpu(mlp: MlpWeights, input: Float32Array, batch: number): Float32Array {
  let x = input;
  mlp.layers.forEach((layer, index) => {
    const { inFeatures: k, outFeatures: m, weight, bias } = layer;
    if (x.length !== batch * k) throw new RangeError(`layer ${index} expects ${batch}×${k} inputs, got ${x.length}`);
    const relu = index < mlp.layers.length - 1;
    const y = new Float32Array(batch * m);
    for (let n = 0; n < batch; n++) {
      const row = n * k;
      for (let o = 0; o < m; o++) {
        const w = o * k;
        let acc = bias[o] as number;
        for (let i = 0; i < k; i++) acc += (x[row + i] as number) * (weight[w + i] as number);
        y[n * m + o] = relu && acc < 0 ? 0 : acc;
      }
    }
    x = y;
  });
  return x;
}

/** `gpuflow submit`: a load generator with a progress bar and a per-class summary. */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../domain/errors.js';
import { DEFAULT_DEADLINES, parseClasses, parseTrace, parseWeights, planArrivals, type Arrival } from '../../client/arrivals.js';
import { createClient } from '../../client/client.js';
import { runLoad } from '../../client/load-run.js';
import { formatSummary, summarise } from '../../client/summary.js';
import { progressBar } from '../progress.js';
import type { Command } from '../command.js';

/** Input tensors for load runs: [1, width] FP32 rows, deterministic per request. */
export function loadTensor(width: number): (arrival: Arrival, index: number) => { dtype: 'FP32'; shape: number[]; data: Uint8Array } {
  return (_arrival, index) => {
    const values = new Float32Array(width);
    for (let j = 0; j < width; j++) values[j] = Math.sin(index + j);
    return { dtype: 'FP32', shape: [1, width], data: new Uint8Array(values.buffer) };
  };
}

export const submitCommand: Command = {
  name: 'submit',
  logLevel: 'warn',
  summary: 'send requests at a rate (Poisson or bursty) or from a trace file, and report what came back',
  usage: 'gpuflow submit [--rate N] [--duration S] [--model M] [--tenants a:3,b:1] [--classes realtime:1,batch:2] [--arrivals poisson|bursty] [--trace FILE]',
  flags: {
    rate: { type: 'number', description: 'requests per second', default: 50, positive: true },
    duration: { type: 'number', description: 'seconds', default: 10, positive: true },
    model: { type: 'string', description: 'model name(s), comma-separated', default: 'mlp-small' },
    width: { type: 'number', description: 'input features per request', default: 64, integer: true, min: 1 },
    tenants: { type: 'string', description: 'tenant mix NAME:WEIGHT,...', default: 'acme:2,globex:1,initech:1' },
    classes: { type: 'string', description: 'SLO class mix', default: 'realtime:1,interactive:2,batch:1' },
    arrivals: { type: 'string', description: 'poisson or bursty', default: 'poisson' },
    trace: { type: 'string', description: 'JSONL trace of {atMs, model, tenant, sloClass, deadlineMs}; overrides the rate' },
    seed: { type: 'number', description: 'random seed', default: 1, integer: true },
  },
  async run({ flags }, { config, logger, print }) {
    const pattern = String(flags.arrivals);
    if (pattern !== 'poisson' && pattern !== 'bursty') throw new ConfigError(`--arrivals must be poisson or bursty, got '${pattern}'`);
    let arrivals: Arrival[];
    if (typeof flags.trace === 'string') {
      let text: string;
      try {
        text = readFileSync(flags.trace, 'utf8');
      } catch (cause) {
        throw new ConfigError(`cannot read trace ${flags.trace}`, { cause });
      }
      arrivals = parseTrace(text);
    } else {
      arrivals = planArrivals({
        ratePerSec: Number(flags.rate), durationSec: Number(flags.duration), pattern,
        models: String(flags.model).split(',').filter(Boolean), tenants: parseWeights(String(flags.tenants), '--tenants'),
        classes: parseClasses(String(flags.classes)), deadlines: DEFAULT_DEADLINES, seed: Number(flags.seed),
      });
    }
    const client = await createClient(config, logger);
    const bar = progressBar('submit', arrivals.length);
    try {
      const outcomes = await runLoad(client, arrivals, { tensor: loadTensor(Number(flags.width)), onOutcome: (done) => bar.update(done) });
      bar.finish(`${client.stats.duplicates} duplicate results dropped`);
      for (const line of formatSummary(summarise(outcomes))) print(line);
      return 0;
    } finally {
      await client.close();
    }
  },
};

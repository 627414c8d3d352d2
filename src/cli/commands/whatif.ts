/** `gpuflow whatif`: re-runs a recorded range under another batching and scheduling policy on a simulated fleet, and writes an HTML report. */
import { readFileSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../../domain/errors.js';
import { createKafka } from '../../kafka/client.js';
import { createRegistryClient } from '../../kafka/registry.js';
import { parseBound } from '../../replay/range.js';
import { renderWhatIfReport } from '../../report/whatif-report.js';
import { parsePolicy } from '../../whatif/policy.js';
import { attainment } from '../../whatif/whatif.js';
import { runWhatIf } from '../../whatif/whatif-run.js';
import type { Command } from '../command.js';

export const whatifCommand: Command = {
  name: 'whatif',
  summary: 're-run a recorded range under another batching/scheduling policy on a simulated fleet; HTML report',
  usage: 'gpuflow whatif --policy FILE [--from TIME|OFFSET] [--to TIME|OFFSET] [--out whatif-report.html]',
  flags: {
    policy: { type: 'string', description: 'JSON file: batcher, scheduler, manifests and fleet settings to try' },
    from: { type: 'string', description: 'start of the range: ISO time, epoch ms, or a dispatcher.inputs offset' },
    to: { type: 'string', description: 'end of the range, inclusive, same forms' },
    out: { type: 'string', description: 'where the HTML report goes', default: 'whatif-report.html' },
  },
  async run({ flags }, { config, logger, print }) {
    if (typeof flags.policy !== 'string') throw new ConfigError('--policy FILE is required');
    let text: string;
    try {
      text = readFileSync(flags.policy, 'utf8');
    } catch (cause) {
      throw new ConfigError(`cannot read the policy file ${flags.policy}`, { cause });
    }
    const policy = parsePolicy(text, flags.policy);
    const result = await runWhatIf(createKafka(config, logger), createRegistryClient(config.schemaRegistryUrl), logger, {
      policy,
      ...(typeof flags.from === 'string' ? { from: parseBound(flags.from, '--from') } : {}),
      ...(typeof flags.to === 'string' ? { to: parseBound(flags.to, '--to') } : {}),
    });
    const out = String(flags.out);
    writeFileSync(out, renderWhatIfReport(result));
    const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
    print(`${result.recorded.outcomes.length} requests; SLO attainment: recorded ${pct(attainment(result.recorded))}, simulated baseline ${pct(attainment(result.baseline))}, ${policy.name} ${pct(attainment(result.alternative))}`);
    for (const s of [result.baseline, result.alternative]) {
      print(`  ${s.name}: ${s.summary.map((c) => `${c.sloClass} ${pct(c.attainment)}`).join(', ')}`);
    }
    print(`report written to ${out}`);
    return 0;
  },
};

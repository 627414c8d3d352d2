import { ConfigError } from '../../domain/errors.js';
import { stackDown, stackStatus, stackUp } from '../../stack/index.js';
import type { Command } from '../command.js';

export const stackCommand: Command = {
  name: 'stack',
  summary: 'start, stop or inspect the local Kafka, schema registry, Redis and Prometheus',
  usage: 'gpuflow stack up|down|status',
  flags: {},
  async run({ positionals }, { config, logger, print }) {
    const action = positionals[0];
    if (action === 'up') await stackUp(config, logger);
    else if (action === 'down') await stackDown(config, logger);
    else if (action !== 'status') throw new ConfigError(`stack: expected 'up', 'down' or 'status', got '${action ?? ''}'`);
    const rows = await stackStatus(config);
    for (const r of rows) print(`${r.name.padEnd(12)} ${r.state.padEnd(9)} ${(r.pid ? `pid ${r.pid}` : '').padEnd(11)} ${r.address}  ${r.detail ?? ''}`.trimEnd());
    return 0;
  },
};

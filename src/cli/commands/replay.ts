/**
 * `gpuflow replay`: re-decides a recorded range of the dispatchers' inputs in virtual time
 * (--from/--to, --speed, --verify against the recorded decisions), or rebuilds every read model
 * from the start of the log into an empty Redis prefix or database (--projections).
 */
import { ConfigError } from '../../domain/errors.js';
import { createKafka } from '../../kafka/client.js';
import { createRegistryClient } from '../../kafka/registry.js';
import { canonicalJson } from '../../replay/compare.js';
import { describeBound, parseBound } from '../../replay/range.js';
import { runReplay } from '../../replay/replay-run.js';
import { replayProjections } from '../../services/projector.js';
import type { Command, CommandContext } from '../command.js';
import type { Flags } from '../args.js';
import { progressBar, type Progress } from '../progress.js';
import { connectRedis } from '../../projections/redis-connection.js';

export const replayCommand: Command = {
  name: 'replay',
  summary: 're-decide a recorded range in virtual time (--from/--to, --verify), or rebuild the read models (--projections)',
  usage: 'gpuflow replay [--from TIME|OFFSET] [--to TIME|OFFSET] [--speed N|max] [--verify]  |  gpuflow replay --projections [--prefix P] [--db N] [--topic-prefix T]',
  flags: {
    from: { type: 'string', description: 'start of the range: ISO time, epoch ms, or a dispatcher.inputs offset (default: the journal\'s start)' },
    to: { type: 'string', description: 'end of the range, inclusive, same forms (default: the journal\'s end)' },
    speed: { type: 'string', description: 'N: N times real time; max: as fast as possible', default: 'max' },
    verify: { type: 'boolean', description: 'compare the re-decided decisions with the recorded ones; exit 1 at the first difference' },
    projections: { type: 'boolean', description: 'rebuild every read model into an empty prefix or database' },
    prefix: { type: 'string', description: 'Redis key prefix to rebuild under', default: 'gpuflow' },
    db: { type: 'number', description: 'Redis database index to rebuild into (the live models are in 0)', default: 1, integer: true, min: 0 },
    'topic-prefix': { type: 'string', description: 'prepended to every topic name (namespaced deployments)', default: '' },
  },
  async run({ flags }, ctx) {
    if (!flags.projections) return replayDecisions(flags, ctx);
    const { config, logger, print } = ctx;
    const db = Number(flags.db);
    const prefix = String(flags.prefix);
    const redis = connectRedis(config.redisUrl, db);
    await redis.connect();
    // The total is known once the replay has read the log's end offsets.
    const shown: { bar: Progress | null } = { bar: null };
    try {
      const started = Date.now();
      const result = await replayProjections(createKafka(config, logger), createRegistryClient(config.schemaRegistryUrl), redis, logger, {
        prefix, topicPrefix: String(flags['topic-prefix']),
        onProgress: (done, total) => (shown.bar ??= progressBar('replay', total)).update(done, 'events'),
      });
      shown.bar?.finish('events');
      const seconds = (Date.now() - started) / 1000;
      print(`rebuilt the read models under ${prefix}: in Redis db ${db} from ${result.events} events on ${result.partitions} partitions in ${seconds.toFixed(1)} s`);
      return 0;
    } finally {
      redis.disconnect();
    }
  },
};

function parseSpeed(text: string): number | 'max' {
  if (text === 'max') return 'max';
  const n = Number(text);
  if (!(n > 0) || !Number.isFinite(n)) throw new ConfigError(`--speed must be a positive number or max, got '${text}'`);
  return n;
}

async function replayDecisions(flags: Flags, { config, logger, print }: CommandContext): Promise<number> {
  const from = typeof flags.from === 'string' ? parseBound(flags.from, '--from') : undefined;
  const to = typeof flags.to === 'string' ? parseBound(flags.to, '--to') : undefined;
  const speed = parseSpeed(String(flags.speed));
  const shown: { bar: Progress | null } = { bar: null };
  const started = Date.now();
  const result = await runReplay(createKafka(config, logger), createRegistryClient(config.schemaRegistryUrl), logger, {
    ...(from ? { from } : {}), ...(to ? { to } : {}), speed, verify: Boolean(flags.verify),
    onProgress: (done, total) => (shown.bar ??= progressBar('replay', total)).update(done, 'turns'),
  });
  shown.bar?.finish('turns');
  const { window } = result.plan;
  const seconds = (Date.now() - started) / 1000;
  if (window === null) {
    print(`nothing recorded between ${describeBound(from, 'the start')} and ${describeBound(to, 'the end')} of the journal`);
    return 0;
  }
  const span = (window.toMs - window.fromMs) / 1000;
  print(`re-decided ${result.turns} turns of ${result.plan.instances.length} dispatcher process(es); ${result.decisions.length} decisions between ${new Date(window.fromMs).toISOString()} and ${new Date(window.toMs).toISOString()} (${span.toFixed(1)} s recorded, replayed in ${seconds.toFixed(1)} s)`);
  for (const error of result.inputErrors.slice(0, 5)) print(`input that failed, as it did live: ${error}`);
  const verification = result.verification;
  if (verification === null) return 0;
  const d = verification.difference;
  if (d === null) {
    print(`0 differences in ${verification.decisions} decisions`);
    return 0;
  }
  print(`first difference at ${d.position ?? '(not recorded)'} (key ${d.key}, decision #${d.index} of that key):`);
  print(`  expected: ${d.expected ? canonicalJson(d.expected) : '(nothing recorded)'}`);
  print(`  got:      ${d.got ? canonicalJson(d.got) : '(nothing re-decided)'}`);
  return 1;
}

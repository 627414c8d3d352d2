import { ConfigError } from '../../domain/errors.js';
import { createKafka } from '../../kafka/client.js';
import { applyTopics, planTopics } from '../../kafka/topics-admin.js';
import { describeChange, loadTopicSpecs } from '../../kafka/topics.js';
import type { Command } from '../command.js';

export const topicsCommand: Command = {
  name: 'topics',
  summary: 'create or check the topics declared in topics/topics.json',
  usage: 'gpuflow topics apply|check [--file PATH]',
  flags: { file: { type: 'string', description: 'topic declarations (default topics/topics.json)' } },
  async run({ positionals, flags }, { config, logger, print }) {
    const action = positionals[0];
    if (action !== 'apply' && action !== 'check') throw new ConfigError(`topics: expected 'apply' or 'check', got '${action ?? ''}'`);
    const specs = loadTopicSpecs(typeof flags.file === 'string' ? flags.file : undefined, config.topicReplication);
    const kafka = createKafka(config, logger);
    if (action === 'check') {
      const changes = await planTopics(kafka, specs);
      for (const c of changes) print(describeChange(c));
      print(changes.length === 0 ? `topics: all ${specs.length} topics match their declarations` : `topics: ${changes.length} difference(s)`);
      return changes.length === 0 ? 0 : 1;
    }
    const report = await applyTopics(kafka, specs);
    for (const c of report.applied) print(describeChange(c));
    for (const c of report.drift) print(describeChange(c));
    print(report.applied.length === 0 ? `topics: nothing to change (${specs.length} topics)` : `topics: ${report.applied.length} change(s) applied`);
    return report.drift.length === 0 ? 0 : 1;
  },
};

import { ConfigError } from '../../domain/errors.js';
import { registerSchemas } from '../../kafka/codecs/topic-codec.js';
import { createRegistryClient } from '../../kafka/registry.js';
import { loadTopicSpecs } from '../../kafka/topics.js';
import type { Command } from '../command.js';

export const schemasCommand: Command = {
  name: 'schemas',
  summary: 'register the Avro schemas of every topic (BACKWARD compatibility)',
  usage: 'gpuflow schemas register',
  flags: {},
  async run({ positionals }, { config, print }) {
    if (positionals[0] !== 'register') throw new ConfigError(`schemas: expected 'register', got '${positionals[0] ?? ''}'`);
    const ids = await registerSchemas(createRegistryClient(config.schemaRegistryUrl), loadTopicSpecs(undefined, config.topicReplication));
    for (const [subject, id] of ids) print(`${subject.padEnd(34)} id ${id}`);
    print(`schemas: ${ids.size} subjects registered at ${config.schemaRegistryUrl}`);
    return 0;
  },
};

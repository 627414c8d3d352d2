import { resolve } from 'node:path';
import { ConfigError } from '../../domain/errors.js';
import { stackDown, stackStatus, stackUp } from '../../stack/index.js';
import { addKafkaTenant, removeKafkaTenant, rotateTenantKey, tenantKeyFile, tenantPasswordFile } from '../../stack/kafka-tenants.js';
import type { Command, CommandContext } from '../command.js';

/**
 * `stack tenant add NAME`: a SCRAM user, its results topic and its ACLs on the secured local stack.
 * The password stays in a file (0600), never on the terminal: --password-file's first line, or a
 * new one generated into that file (default GPUFLOW_HOME/kafka/tenants/NAME.password). The
 * tenant's request-signing key goes beside it (NAME.key, kept when it exists).
 * `stack tenant rotate-key NAME [--drop-previous]`: a new signing key in NAME.key (docs/security.md).
 * `stack tenant remove NAME [--keep-topic]`: its credential, ACLs, results topic and files go.
 */
async function tenantCommand(positionals: string[], flags: { passwordFile?: string; dropPrevious: boolean; keepTopic: boolean }, { config, logger, print }: CommandContext): Promise<number> {
  const [verb, name] = positionals;
  if ((verb !== 'add' && verb !== 'rotate-key' && verb !== 'remove') || !name || positionals.length > 2) {
    throw new ConfigError(`tenant: expected 'add NAME', 'rotate-key NAME' or 'remove NAME', got '${positionals.join(' ')}'`);
  }
  if (flags.passwordFile !== undefined && verb !== 'add') throw new ConfigError("--password-file goes with 'tenant add'");
  if (flags.dropPrevious && verb !== 'rotate-key') throw new ConfigError("--drop-previous goes with 'tenant rotate-key'");
  if (flags.keepTopic && verb !== 'remove') throw new ConfigError("--keep-topic goes with 'tenant remove'");
  if (verb === 'remove') {
    const removed = await removeKafkaTenant(config, logger, name, { keepTopic: flags.keepTopic });
    print(`tenant ${name}: SCRAM credential deleted, ${removed.acls} ACL bindings deleted, ${removed.topic ? `topic ${removed.topic} deleted` : 'results topic kept'}, ${removed.files.length > 0 ? `removed ${removed.files.join(', ')}` : 'no files under GPUFLOW_HOME'}`);
    return 0;
  }
  if (verb === 'rotate-key') {
    const file = tenantKeyFile(config.home, name);
    const keys = rotateTenantKey(name, file, { dropPrevious: flags.dropPrevious });
    print(flags.dropPrevious
      ? `tenant ${name}: ${file} holds only the current signing key; dispatchers refuse the previous one within 10 s`
      : `tenant ${name}: a new signing key first in ${file}, the previous one kept below it (${keys} keys); dispatchers take it within 10 s. Restart the tenant's clients, then 'gpuflow stack tenant rotate-key ${name} --drop-previous'`);
    return 0;
  }
  // A name that is not a tenant's never reaches a path: addKafkaTenant refuses it before any file is touched.
  const file = flags.passwordFile ? resolve(flags.passwordFile) : tenantPasswordFile(config.home, name);
  const tenant = await addKafkaTenant(config, logger, name, { passwordFile: file });
  print(`tenant ${tenant.tenant}: SCRAM-SHA-512 user '${tenant.username}' (password in ${file}), results ${tenant.resultsTopic}, groups ${tenant.groupPrefix}*, signing key in ${tenant.keyFile}`);
  return 0;
}

/** Every flag of `stack` belongs to one `stack tenant` command. */
const TENANT_FLAGS: Command['flags'] = {
  'password-file': { type: 'string', description: "tenant add: the tenant's password (first line); generated into it when the file does not exist" },
  'drop-previous': { type: 'boolean', description: 'tenant rotate-key: keep only the current key (the end of a rotation)' },
  'keep-topic': { type: 'boolean', description: "tenant remove: keep the tenant's results topic and what it holds" },
};

export const stackCommand: Command = {
  name: 'stack',
  summary: 'start, stop or inspect the local Kafka, schema registry, Redis and Prometheus; add, remove and rotate the signing keys of tenants on a secured Kafka',
  usage: 'gpuflow stack up|down|status | gpuflow stack tenant add NAME [--password-file F] | gpuflow stack tenant rotate-key NAME [--drop-previous] | gpuflow stack tenant remove NAME [--keep-topic]',
  flags: TENANT_FLAGS,
  async run({ positionals, flags }, context) {
    const { config, logger, print } = context;
    const action = positionals[0];
    if (action === 'tenant') {
      const passwordFile = typeof flags['password-file'] === 'string' ? flags['password-file'] : undefined;
      return tenantCommand(positionals.slice(1), { ...(passwordFile === undefined ? {} : { passwordFile }), dropPrevious: flags['drop-previous'] === true, keepTopic: flags['keep-topic'] === true }, context);
    }
    for (const flag of Object.keys(TENANT_FLAGS)) if (flags[flag] !== undefined) throw new ConfigError(`--${flag} goes with 'stack tenant'`);
    if (action === 'up') await stackUp(config, logger);
    else if (action === 'down') await stackDown(config, logger);
    else if (action !== 'status') throw new ConfigError(`stack: expected 'up', 'down', 'status' or 'tenant add|rotate-key|remove NAME', got '${action ?? ''}'`);
    const rows = await stackStatus(config);
    for (const r of rows) print(`${r.name.padEnd(12)} ${r.state.padEnd(9)} ${(r.pid ? `pid ${r.pid}` : '').padEnd(11)} ${r.address}  ${r.detail ?? ''}`.trimEnd());
    return 0;
  },
};

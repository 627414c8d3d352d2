/**
 * `gpuflow models publish DIR`: manifests from a git repository of YAML files, checked, compared
 * with what is live, and published stamped with their commit (with --prune, live models no file
 * declares are retired). `gpuflow models retire MODEL...`: takes models out of service.
 * `gpuflow models list`: what is live.
 */
import { resolve } from 'node:path';
import { ConfigError } from '../../domain/errors.js';
import { manifestDefaults, type ModelManifest } from '../../domain/events/manifest.js';
import { createKafka, type Kafka } from '../../kafka/client.js';
import { createProducer, type EventProducer } from '../../kafka/producer.js';
import { createRegistryClient } from '../../kafka/registry.js';
import { gitState, inHistory } from '../../manifests/git-commit.js';
import { diffManifests, formatDiff } from '../../manifests/manifest-diff.js';
import { readManifestDir } from '../../manifests/manifest-dir.js';
import { publishManifests, readLiveManifests, retireModels } from '../../services/manifests.js';
import type { Command } from '../command.js';

/** Uncommitted paths named in the refusal; the rest are counted. */
const SHOWN_PATHS = 5;

export const modelsCommand: Command = {
  name: 'models',
  logLevel: 'warn',
  summary: 'publish model manifests from a git directory of YAML files (with a diff against what is live), retire models, or list what is live',
  usage: 'gpuflow models publish DIR [--dry-run] [--allow-dirty] [--prune] [--store DIR] | gpuflow models retire MODEL... [--dry-run] | gpuflow models list [--json]',
  flags: {
    'dry-run': { type: 'boolean', description: 'check and show what would change, change nothing' },
    prune: { type: 'boolean', description: 'publish: retire live models that no file in DIR declares and that DIR\'s history published' },
    'allow-dirty': { type: 'boolean', description: 'publish even though files in DIR differ from its git commit' },
    store: { type: 'string', description: 'model store that weights paths must stay inside (default GPUFLOW_MODEL_STORE)' },
    json: { type: 'boolean', description: 'list: one JSON array of the live manifests' },
  },
  async run({ positionals, flags }, { config, logger, print }) {
    // What follows the action: publish's directory, retire's first model.
    const [action, operand] = positionals;
    if (action !== 'publish' && action !== 'list' && action !== 'retire') throw new ConfigError(`models: expected 'publish', 'retire' or 'list', got '${action ?? ''}'`);
    if (action === 'publish' && operand === undefined) throw new ConfigError('models publish: needs the manifests directory (gpuflow models publish DIR)');
    if (action === 'retire' && operand === undefined) throw new ConfigError('models retire: needs the models to retire (gpuflow models retire MODEL...)');
    const extra = action === 'retire' ? [] : positionals.slice(action === 'list' ? 1 : 2);
    if (extra.length > 0) throw new ConfigError(`models ${action}: unexpected argument '${extra[0]}'`);
    const kafka = createKafka(config, logger);
    const registry = createRegistryClient(config.schemaRegistryUrl);

    if (action === 'retire') {
      const models = [...new Set(positionals.slice(1))];
      const live = await readLiveManifests(kafka, registry, logger);
      const unknown = models.filter((m) => !live.has(m));
      if (unknown.length > 0) throw new ConfigError(`models retire: not live: ${unknown.join(', ')} (live: ${[...live.keys()].sort().join(', ') || 'none'})`);
      if (flags['dry-run']) {
        print(`models: ${models.length} model(s) would be retired: ${models.join(', ')} (dry run)`);
        return 0;
      }
      await withProducer(kafka, (producer) => retireModels(producer, models));
      print(`models: retired ${models.join(', ')}: queued requests are rejected, workers unload them`);
      return 0;
    }

    if (action === 'list') {
      const live = [...(await readLiveManifests(kafka, registry, logger)).values()].sort((a, b) => (a.manifest.model < b.manifest.model ? -1 : 1));
      if (flags.json) {
        print(JSON.stringify(live.map((l) => manifestDefaults(l.manifest))));
        return 0;
      }
      if (live.length === 0) print('models: nothing live on models.manifests');
      for (const { manifest, partition, offset } of live) {
        const m = manifestDefaults(manifest);
        const traffic = [`stable ${m.version}`, ...(m.canaryVersion ? [`canary ${m.canaryVersion} ${m.canaryWeightPercent}%`] : []), ...(m.shadowVersion ? [`shadow ${m.shadowVersion}`] : [])];
        print(`${m.model}  ${traffic.join(', ')}  ${m.executor}  ${m.dtype}[${m.inputShape.join(', ')}]  max batch ${m.maxBatchSize}  commit ${m.commit.slice(0, 12) || '(none)'}  at ${partition}:${offset}`);
      }
      return 0;
    }

    const root = resolve(operand!);
    const files = await readManifestDir(root, typeof flags.store === 'string' ? resolve(flags.store) : config.modelStore);
    const git = await gitState(root);
    if (git.uncommitted.length > 0 && !flags['allow-dirty']) {
      const more = git.uncommitted.length > SHOWN_PATHS ? ` and ${git.uncommitted.length - SHOWN_PATHS} more` : '';
      throw new ConfigError(`${root} differs from commit ${git.commit.slice(0, 12)} (${git.uncommitted.slice(0, SHOWN_PATHS).join(', ')}${more}): commit first, or --allow-dirty`);
    }
    // Files that differ from their commit say so in the stamp, as `git describe --dirty` does.
    const commit = git.uncommitted.length > 0 ? `${git.commit}-dirty` : git.commit;
    const next = new Map<string, ModelManifest>(files.map((f) => [f.manifest.model, { ...f.manifest, commit }]));
    const live = new Map([...(await readLiveManifests(kafka, registry, logger))].map(([model, l]) => [model, l.manifest]));
    const diffs = diffManifests(live, next);
    // Pruning retires only what this repository published (a live commit in its history), never a
    // model another repository or a person published to the same topic.
    const ours = async (model: string): Promise<boolean> => inHistory(root, live.get(model)!.commit.replace(/-dirty$/, ''));
    const removed = diffs.filter((d) => d.status === 'removed').map((d) => d.model);
    const toRetire = flags.prune ? (await Promise.all(removed.map(async (m) => ((await ours(m)) ? [m] : [])))).flat() : [];
    for (const line of formatDiff(diffs, flags.prune ? new Set(toRetire) : undefined)) print(line);
    const toPublish = diffs.filter((d) => d.status === 'added' || d.status === 'changed').map((d) => next.get(d.model)!);
    if (flags['dry-run']) {
      print(`models: ${toPublish.length} manifest(s) would be published at commit ${git.commit.slice(0, 12)}${toRetire.length > 0 ? `, ${toRetire.join(', ')} would be retired` : ''} (dry run)`);
      return 0;
    }
    if (toPublish.length === 0 && toRetire.length === 0) {
      print(`models: nothing to publish, live manifests match ${git.commit.slice(0, 12)}`);
      return 0;
    }
    await withProducer(kafka, async (producer) => {
      await publishManifests(producer, registry, toPublish);
      await retireModels(producer, toRetire);
    });
    print(`models: published ${toPublish.length} manifest(s) at commit ${git.commit.slice(0, 12)}${git.uncommitted.length > 0 ? ' with uncommitted changes (stamped -dirty)' : ''}${toRetire.length > 0 ? `; retired ${toRetire.join(', ')}` : ''}`);
    return 0;
  },
};

async function withProducer(kafka: Kafka, use: (producer: EventProducer) => Promise<void>): Promise<void> {
  const producer = await createProducer(kafka);
  try {
    await use(producer);
  } finally {
    await producer.disconnect();
  }
}

/**
 * The `gpuflow` command. Mistakes get one line on stderr and exit code 2; failures get one line
 * and exit code 1; never a stack trace (GPUFLOW_LOG=debug adds the JSON error log).
 */
import { loadConfig } from '../config.js';
import { ConfigError, describeError } from '../domain/errors.js';
import { createLogger, type Level } from '../log.js';
import { parseArgs } from './args.js';
import type { Command, CommandContext } from './command.js';
import { demoCommand } from './commands/demo.js';
import { detectorCommand } from './commands/detector.js';
import { modelsCommand } from './commands/models.js';
import { dispatcherCommand } from './commands/dispatcher.js';
import { projectorCommand } from './commands/projector.js';
import { replayCommand } from './commands/replay.js';
import { resultsCommand } from './commands/results.js';
import { schemasCommand } from './commands/schemas.js';
import { soakCommand } from './commands/soak.js';
import { stackCommand } from './commands/stack.js';
import { submitCommand } from './commands/submit.js';
import { topicsCommand } from './commands/topics.js';
import { whatifCommand } from './commands/whatif.js';
import { workerCommand } from './commands/worker.js';

export const COMMANDS: readonly Command[] = [demoCommand, stackCommand, topicsCommand, schemasCommand, dispatcherCommand, workerCommand, detectorCommand, projectorCommand, replayCommand, whatifCommand, submitCommand, resultsCommand, soakCommand, modelsCommand];

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'gpuflow: an event-sourced control plane for GPU inference on Kafka',
    '',
    'usage: gpuflow COMMAND [ARGS] [--help]',
    '',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Configuration comes from the environment (KAFKA_BROKERS, SCHEMA_REGISTRY_URL, REDIS_URL, GPUFLOW_*); see README.md.',
  ].join('\n');
}

function commandHelp(c: Command): string {
  const flags = Object.entries(c.flags).map(([name, f]) => `  --${name}${f.type === 'boolean' ? '' : ` ${f.type.toUpperCase()}`}  ${f.description}${f.default !== undefined ? ` (default ${f.default})` : ''}`);
  return [`${c.summary}`, '', `usage: ${c.usage}`, ...(flags.length ? ['', ...flags] : [])].join('\n');
}

export async function main(argv: readonly string[], out = (line: string) => process.stdout.write(line + '\n')): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    out(help());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  try {
    if (!command) throw new ConfigError(`unknown command '${name}' (gpuflow --help lists them)`);
    if (rest.includes('--help') || rest.includes('-h')) {
      out(commandHelp(command));
      return 0;
    }
    const level = (process.env.GPUFLOW_LOG as Level | 'silent' | undefined) ?? command.logLevel ?? 'info';
    const ctx: CommandContext = { config: loadConfig(), logger: createLogger({ cmd: name }, level), print: out };
    return await command.run(parseArgs(rest, command.flags), ctx);
  } catch (error) {
    process.stderr.write(`gpuflow${command ? ` ${command.name}` : ''}: ${describeError(error)}\n`);
    if (process.env.GPUFLOW_LOG === 'debug') createLogger().error('cli.failed', { error, stack: (error as Error)?.stack });
    return error instanceof ConfigError ? 2 : 1;
  }
}

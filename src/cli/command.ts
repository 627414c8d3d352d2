import type { Config } from '../config.js';
import type { Level, Logger } from '../log.js';
import type { FlagSpec, ParsedArgs } from './args.js';

export interface CommandContext {
  config: Config;
  logger: Logger;
  /** Command output for people (tables, summaries); logs go to stderr as JSON lines. */
  print(line: string): void;
}

/** A `gpuflow` command. `run` returns the exit code. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  flags: Readonly<Record<string, FlagSpec>>;
  /** Log level when GPUFLOW_LOG is not set: commands a person watches keep stderr for what matters. */
  logLevel?: Level;
  run(args: ParsedArgs, ctx: CommandContext): Promise<number>;
}

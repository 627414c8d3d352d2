/** A small, strict argument parser: every flag is declared, anything else is a one-line error. */
import { ConfigError } from '../domain/errors.js';

export type FlagType = 'string' | 'number' | 'boolean';

export interface FlagSpec {
  type: FlagType;
  description: string;
  default?: string | number | boolean;
}

export type Flags = Record<string, string | number | boolean | undefined>;

export interface ParsedArgs {
  positionals: string[];
  flags: Flags;
}

export function parseArgs(argv: readonly string[], specs: Readonly<Record<string, FlagSpec>>): ParsedArgs {
  const positionals: string[] = [];
  const flags: Flags = {};
  for (const [name, spec] of Object.entries(specs)) if (spec.default !== undefined) flags[name] = spec.default;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const spec = specs[name];
    if (!spec) throw new ConfigError(`unknown option --${name}`);
    if (spec.type === 'boolean') {
      if (eq !== -1) throw new ConfigError(`--${name} takes no value`);
      flags[name] = true;
      continue;
    }
    const raw = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (raw === undefined || (eq === -1 && raw.startsWith('--'))) throw new ConfigError(`--${name} needs a value`);
    if (spec.type === 'number') {
      const value = Number(raw);
      if (!Number.isFinite(value)) throw new ConfigError(`--${name} must be a number, got '${raw}'`);
      flags[name] = value;
    } else {
      flags[name] = raw;
    }
  }
  return { positionals, flags };
}

/** A small, strict argument parser: every flag is declared, anything else is a one-line error. */
import { ConfigError } from '../domain/errors.js';

export type FlagType = 'string' | 'number' | 'boolean';

export interface FlagSpec {
  type: FlagType;
  description: string;
  default?: string | number | boolean;
  /** Number flags: the range a value must lie in (inclusive), and whether it must be whole. */
  min?: number;
  max?: number;
  integer?: boolean;
  /** Number flags: the value must be above 0 (for rates and periods, where 0 means nothing). */
  positive?: boolean;
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
      if (raw.trim() === '' || !Number.isFinite(value) || !withinBounds(value, spec)) throw new ConfigError(`--${name} must be ${numberKind(spec)}, got '${raw}'`);
      flags[name] = value;
    } else {
      flags[name] = raw;
    }
  }
  return { positionals, flags };
}

function withinBounds(value: number, spec: FlagSpec): boolean {
  return (!spec.integer || Number.isInteger(value)) && (!spec.positive || value > 0) && (spec.min === undefined || value >= spec.min) && (spec.max === undefined || value <= spec.max);
}

/** What a number flag accepts, in words: 'a whole number of at least 1', 'a number from 0 to 1'. */
function numberKind(spec: FlagSpec): string {
  const noun = `${spec.positive ? 'a positive ' : 'a '}${spec.integer ? 'whole number' : 'number'}`;
  if (spec.min !== undefined && spec.max !== undefined) return `${noun} from ${spec.min} to ${spec.max}`;
  if (spec.min !== undefined) return `${noun} of at least ${spec.min}`;
  if (spec.max !== undefined) return `${noun} of at most ${spec.max}`;
  return noun;
}

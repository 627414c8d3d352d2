/** A manifest file that cannot be published: every problem names the file and the field. */
import { ConfigError } from '../domain/errors.js';

export interface ManifestProblem {
  file: string;
  /** Field path in the file (`versions[1].weights`), '' for the file as a whole. */
  field: string;
  message: string;
}

export const describeProblem = (p: ManifestProblem): string => `${p.file}${p.field ? `: ${p.field}` : ''}: ${p.message}`;

/** One line for all problems, so the command refuses with a single line however many files are wrong. */
export class ManifestError extends ConfigError {
  constructor(readonly problems: readonly ManifestProblem[], options: { cause?: unknown } = {}) {
    super(
      `${problems.length === 1 ? 'a manifest is' : `${problems.length} manifest problems are`} refused, nothing published: ${problems.map(describeProblem).join('; ')}`,
      options,
    );
  }
}

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (where package.json is), the same from src/ under tsx and from dist/src/ compiled. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('gpuflow: cannot find the project root (no package.json above the code)');
    dir = parent;
  }
  return dir;
}

export const projectPath = (...parts: string[]): string => join(projectRoot(), ...parts);

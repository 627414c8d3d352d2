/**
 * Maven as the stack's downloader: it resolves jars and distributions from Maven Central into the
 * local Maven cache (~/.m2), which CI and developers keep warm, so the stack needs no other source.
 */
import { StackError } from '../domain/errors.js';
import { runTool, which } from './process.js';

const HINT = 'apt-get install maven openjdk-17-jre-headless';

async function mvn(component: string, args: string[], what: string): Promise<void> {
  const binary = which('mvn');
  if (!binary) throw new StackError(component, `Maven (mvn) is needed to ${what} and is not installed`, HINT);
  try {
    await runTool(binary, ['-q', '-B', '-Dstyle.color=never', ...args], { timeoutMs: 900_000 });
  } catch (cause) {
    throw new StackError(component, `Maven could not ${what}: ${(cause as Error).message}`, `${HINT}; Maven Central must be reachable on the first start`, { cause });
  }
}

/** Writes the runtime classpath of `pom` (with `-Dname=value` properties) to `outputFile`. */
export function buildClasspath(component: string, pom: string, properties: Record<string, string>, outputFile: string): Promise<void> {
  const props = Object.entries(properties).map(([k, v]) => `-D${k}=${v}`);
  return mvn(component, ['-f', pom, ...props, 'dependency:build-classpath', `-Dmdep.outputFile=${outputFile}`, '-Dmdep.includeScope=runtime'], 'resolve the classpath');
}

/**
 * Copies one artifact (groupId:artifactId:version:type[:classifier]) into `outputDirectory`.
 * `dependency:copy` fetches only the artifact itself, where `dependency:get` would also walk its
 * transitive poms.
 */
export function copyArtifact(component: string, artifact: string, outputDirectory: string): Promise<void> {
  return mvn(component, ['dependency:copy', `-Dartifact=${artifact}`, `-DoutputDirectory=${outputDirectory}`], `fetch ${artifact}`);
}

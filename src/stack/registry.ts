/**
 * Apicurio Registry 3.x, a Confluent-compatible schema registry (its API under /apis/ccompat/v7).
 * The `-all` distribution comes from Maven Central (io.apicurio:apicurio-registry-app, tar.gz) and is
 * unpacked once under $GPUFLOW_HOME. Schemas persist across restarts in an H2 database file.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { StackError } from '../domain/errors.js';
import type { Logger } from '../log.js';
import type { Component } from './component.js';
import { ensureJava21 } from './java.js';
import { copyArtifact } from './maven.js';
import { httpStatus } from './probe.js';
import { logFile, runTool, spawnDetached, waitReady } from './process.js';

const HOST = '127.0.0.1';

export function registryComponent(config: Config): Component {
  const { home, schemaRegistryUrl } = config;
  const { registryPort, apicurioVersion, registryHeap } = config.stack;
  const name = 'registry' as const;
  const downloads = join(home, 'downloads');
  const archive = join(downloads, `apicurio-registry-app-${apicurioVersion}-all.tar.gz`);
  const appDir = join(home, 'registry', `apicurio-registry-${apicurioVersion}`);
  const runner = join(appDir, 'quarkus-run.jar');
  const dataDir = join(home, 'registry', 'data');
  // Quarkus's management interface (health, metrics) needs a port of its own: the next one.
  const managementPort = registryPort + 1;
  const healthUrl = `http://${HOST}:${registryPort}/apis/ccompat/v7/subjects`;

  /** Fetches and unpacks the distribution once; an interrupted unpack never counts as done. */
  async function install(logger: Logger): Promise<void> {
    if (existsSync(runner)) return;
    if (!existsSync(archive)) {
      logger.info('stack.registry.download', { version: apicurioVersion, into: downloads });
      await copyArtifact(name, `io.apicurio:apicurio-registry-app:${apicurioVersion}:tar.gz:all`, downloads);
    }
    const partial = `${appDir}.partial`;
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial, { recursive: true });
    try {
      await runTool('tar', ['-xzf', archive, '-C', partial], { timeoutMs: 300_000 });
    } catch (cause) {
      rmSync(partial, { recursive: true, force: true });
      // A truncated download is fetched again next time.
      rmSync(archive, { force: true });
      throw new StackError(name, `unpacking ${archive} failed: ${(cause as Error).message}`, 'apt-get install tar gzip', { cause });
    }
    if (!existsSync(join(partial, 'quarkus-run.jar'))) {
      throw new StackError(name, `${archive} holds no quarkus-run.jar (found: ${readdirSync(partial).join(', ')})`);
    }
    renameSync(partial, appDir);
    // The Maven cache keeps the archive; the unpacked copy is all the stack needs.
    rmSync(archive, { force: true });
  }

  return {
    name,
    address: schemaRegistryUrl,
    external: config.external.registry,
    ports: [registryPort, managementPort],
    stopGraceMs: 15_000,
    healthy: async () => (await httpStatus(healthUrl)) === 200,
    owns: ({ cmdline }) => cmdline.includes(runner) && cmdline.includes(`-Dquarkus.http.port=${registryPort}`),
    async start(logger) {
      await install(logger);
      const java = await ensureJava21(home, name, logger);
      mkdirSync(dataDir, { recursive: true });
      const args = [
        `-Xmx${registryHeap}`,
        // Small heap, two cores: the serial collector and the C1 compiler start fastest and use least memory.
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        '-XX:+ExitOnOutOfMemoryError',
        `-Dquarkus.http.host=${HOST}`,
        `-Dquarkus.http.port=${registryPort}`,
        `-Dquarkus.management.host=${HOST}`,
        `-Dquarkus.management.port=${managementPort}`,
        '-Dquarkus.http.access-log.enabled=false',
        `-Dapicurio.datasource.url=jdbc:h2:file:${join(dataDir, 'registry')}`,
        '-Dapicurio.datasource.jdbc.initial-size=2',
        '-Dapicurio.datasource.jdbc.min-size=2',
        '-Dapicurio.datasource.jdbc.max-size=16',
        `-Dapicurio.storage.snapshot.location=${dataDir}`,
        '-jar',
        runner,
      ];
      const { pid, logOffset } = await spawnDetached(home, { name, command: java, args, cwd: appDir });
      await waitReady(async () => (await httpStatus(healthUrl)) === 200, {
        name,
        pid,
        log: logFile(home, name),
        logOffset,
        timeoutMs: 180_000,
        hint: `check that ports ${registryPort} and ${managementPort} are free`,
      });
    },
  };
}

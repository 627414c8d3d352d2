/**
 * Vitest globalSetup for the int project: brings the local stack up (a few probes when it is
 * already up), hands its addresses to the test files, and on teardown stops only what it started.
 * A service given by KAFKA_BROKERS, SCHEMA_REGISTRY_URL or REDIS_URL is used as it is.
 *
 * Test files read the addresses with `inject('gpuflowStack')`, or simply call loadConfig(): the
 * setup exports KAFKA_BROKERS, SCHEMA_REGISTRY_URL, REDIS_URL and GPUFLOW_HOME to the workers.
 */
import type { TestProject } from 'vitest/node';
import { loadConfig } from '../../src/config.js';
import { createLogger, type Level } from '../../src/log.js';
import { stackDown, stackUp } from '../../src/stack/index.js';

export interface StackAddresses {
  kafkaBrokers: string[];
  schemaRegistryUrl: string;
  redisUrl: string;
  prometheusUrl: string;
  home: string;
  /** Which services came from the environment rather than from this setup. */
  external: { kafka: boolean; registry: boolean; redis: boolean };
}

declare module 'vitest' {
  export interface ProvidedContext {
    gpuflowStack: StackAddresses;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const config = loadConfig();
  const logger = createLogger({ scope: 'test.stack' }, (process.env.GPUFLOW_LOG as Level | 'silent' | undefined) ?? 'warn');
  const { started } = await stackUp(config, logger);
  const addresses: StackAddresses = {
    kafkaBrokers: config.kafkaBrokers,
    schemaRegistryUrl: config.schemaRegistryUrl,
    redisUrl: config.redisUrl,
    prometheusUrl: `http://127.0.0.1:${config.stack.prometheusPort}`,
    home: config.home,
    external: config.external,
  };
  project.provide('gpuflowStack', addresses);
  process.env.KAFKA_BROKERS = config.kafkaBrokers.join(',');
  process.env.SCHEMA_REGISTRY_URL = config.schemaRegistryUrl;
  process.env.REDIS_URL = config.redisUrl;
  process.env.GPUFLOW_HOME = config.home;
  return async () => {
    if (started.length > 0) await stackDown(config, logger, { only: started });
  };
}

/**
 * redis-server from the system's packages, on loopback, with its data under $GPUFLOW_HOME/redis.
 * It runs in the foreground (no daemonize): the stack detaches it and keeps its pid.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { StackError } from '../domain/errors.js';
import type { Component } from './component.js';
import { tcpExchange } from './probe.js';
import { logFile, spawnDetached, waitReady, which } from './process.js';

const HOST = '127.0.0.1';
const HINT = 'apt-get install redis-server';

/** Whether a Redis server answers PING with PONG. */
export async function redisAnswers(host: string, port: number, timeoutMs = 2000): Promise<boolean> {
  const reply = await tcpExchange(host, port, Buffer.from('PING\r\n'), (r) => r.includes('\r\n'), timeoutMs);
  return reply !== undefined && reply.toString('utf8').startsWith('+PONG');
}

export function redisComponent(config: Config): Component {
  const { home } = config;
  const { redisPort } = config.stack;
  const name = 'redis' as const;
  const dataDir = join(home, 'redis');
  return {
    name,
    address: config.redisUrl,
    external: config.external.redis,
    ports: [redisPort],
    stopGraceMs: 10_000,
    healthy: () => redisAnswers(HOST, redisPort),
    // redis-server renames its process to "redis-server HOST:PORT" and runs in its data directory.
    owns: ({ cmdline, cwd }) => (cmdline[0] ?? '').includes('redis-server') && cmdline.join(' ').includes(`:${redisPort}`) && cwd === dataDir,
    async start() {
      const binary = which('redis-server');
      if (!binary) throw new StackError(name, 'redis-server is not installed', HINT);
      mkdirSync(dataDir, { recursive: true });
      const args = ['--bind', HOST, '--port', String(redisPort), '--dir', dataDir, '--daemonize', 'no', '--logfile', '', '--save', '60 1000', '--appendonly', 'no'];
      const { pid, logOffset } = await spawnDetached(home, { name, command: binary, args, cwd: dataDir });
      await waitReady(() => redisAnswers(HOST, redisPort), {
        name,
        pid,
        log: logFile(home, name),
        logOffset,
        timeoutMs: 30_000,
        hint: `check that port ${redisPort} is free; ${HINT}`,
      });
    },
  };
}

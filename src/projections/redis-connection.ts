/** The one place a Redis client is made, so that callers above the adapters need not know ioredis. */
import { Redis } from 'ioredis';

export type { Redis } from 'ioredis';

export function connectRedis(url: string, db: number): Redis {
  return new Redis(url, { db, lazyConnect: true });
}

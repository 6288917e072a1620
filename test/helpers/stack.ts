import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { endpoints, type Endpoints } from '../../src/lib/endpoints.js';

const stackScript = fileURLToPath(new URL('../../scripts/stack.sh', import.meta.url));

/**
 * Integration tests call this first. `scripts/test.sh` brings the stack up once for the whole run
 * (and takes it down only if it started it); a test file run on its own starts it here if needed
 * (stack.sh up is a no-op when the stack is already running). With KAFKA_BROKERS and WEBHDFS_URL
 * set, tests run against that cluster instead.
 */
export function ensureStack(): Endpoints {
  if (!(process.env.KAFKA_BROKERS && process.env.WEBHDFS_URL)) {
    execFileSync('bash', [stackScript, 'up'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  return endpoints();
}

/** Fault injection on the local stack (stop/start the DataNode or Kafka). */
export function stackCommand(command: 'stop-datanode' | 'start-datanode' | 'stop-kafka' | 'start-kafka'): void {
  execFileSync('bash', [stackScript, command], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** A name unique to this run, for topics and paths, so suites never see each other's data. */
export const uniqueName = (prefix: string): string =>
  `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

/** True when KAFKA_BROKERS and WEBHDFS_URL point the tests at a cluster of the user's own. */
export const usingExternalCluster = (): boolean => Boolean(process.env.KAFKA_BROKERS && process.env.WEBHDFS_URL);

/**
 * A classpath with Hadoop's own jars, for interop checks that read local files with Hadoop's tools:
 * the local stack's, or (with an external cluster) the same jars fetched into the cache.
 */
export function hadoopClasspath(reported: string | undefined): string {
  if (reported) return reported;
  execFileSync('bash', [stackScript, 'fetch'], { stdio: ['ignore', 'ignore', 'inherit'] });
  return `${process.env.PCAPLINE_CACHE ?? `${process.env.HOME}/.cache/pcapline`}/hadoop-3.4.2/lib/*`;
}

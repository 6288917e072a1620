import { readFileSync } from 'node:fs';

/** Where `scripts/stack.sh` writes the local stack's endpoints. */
export const stackDir = (): string => process.env.PCAPLINE_STACK_DIR ?? '/tmp/pcapline-stack';

export interface Endpoints {
  /** Kafka bootstrap servers, comma separated. */
  kafkaBrokers: string;
  /** webhdfs://host:port of the NameNode's HTTP endpoint. */
  webhdfsUrl: string;
  kafkaVersion?: string;
  hadoopVersion?: string;
  /** Classpath of the stack's Hadoop jars and config (for interop checks with Hadoop's own tools). */
  hadoopClasspath?: string;
}

function readStackEnv(): Record<string, string> {
  try {
    const text = readFileSync(`${stackDir()}/endpoints.env`, 'utf8');
    return Object.fromEntries(
      text
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
  } catch {
    return {};
  }
}

/** Normalises `http://host:port[/webhdfs/v1]` and `webhdfs://host:port` to `webhdfs://host:port`. */
function toWebhdfsUri(url: string): string {
  const u = new URL(url);
  return `webhdfs://${u.host}`;
}

/**
 * Endpoints for tests and tools: KAFKA_BROKERS and WEBHDFS_URL override the local stack's file,
 * so users with their own cluster point everything at it with two variables.
 */
export function endpoints(): Endpoints {
  const file = readStackEnv();
  const kafkaBrokers = process.env.KAFKA_BROKERS ?? file.KAFKA_BROKERS;
  const webhdfs = process.env.WEBHDFS_URL ?? file.WEBHDFS_URL;
  if (!kafkaBrokers || !webhdfs) {
    throw new Error(`no Kafka/HDFS endpoints: run 'npm run stack:up' or set KAFKA_BROKERS and WEBHDFS_URL`);
  }
  return {
    kafkaBrokers,
    webhdfsUrl: toWebhdfsUri(webhdfs),
    kafkaVersion: file.KAFKA_VERSION,
    hadoopVersion: file.HADOOP_VERSION,
    hadoopClasspath: file.HADOOP_CLASSPATH,
  };
}

/** Like endpoints(), but falls back to the local stack's fixed addresses when nothing is recorded. */
export function endpointsOrDefault(): Endpoints {
  try {
    return endpoints();
  } catch {
    return {
      kafkaBrokers: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
      webhdfsUrl: toWebhdfsUri(process.env.WEBHDFS_URL ?? 'http://127.0.0.1:9870'),
    };
  }
}

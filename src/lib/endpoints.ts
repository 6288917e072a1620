import { lstatSync, readFileSync, type Stats } from 'node:fs';

/** Where `scripts/stack.sh` writes the local stack's endpoints. */
export const stackDir = (): string => process.env.PCAPLINE_STACK_DIR ?? '/tmp/pcapline-stack';

/** Set to 1 to use endpoints.env even when it fails the ownership checks (a shared test host). */
export const TRUST_ENV = 'PCAPLINE_TRUST_STACK_FILE';

/**
 * Why the stack's endpoints file must not be trusted, or null when it may be. It names the brokers
 * and NameNode the tools send packets to, and it lives in /tmp: only a directory owned by this
 * user with no access for anyone else (mode 0700 or stricter), holding a regular file owned by
 * this user that nobody else can write, is ours (scripts/stack.sh makes them so). Symbolic links
 * are refused: whoever owns the link's target decides.
 */
export function stackFileDistrust(dir: string, file: string, uid = process.getuid?.()): string | null {
  const check = (path: string, what: string, mask: number, want: (st: Stats) => boolean): string | null => {
    let st: Stats;
    try {
      st = lstatSync(path);
    } catch {
      return null; // missing: nothing to trust or distrust (readStackEnv finds nothing)
    }
    if (!want(st)) return `${path} is not a ${what}`;
    if (uid !== undefined && st.uid !== uid) return `${path} belongs to uid ${st.uid}, not to this user (uid ${uid})`;
    if ((st.mode & mask) !== 0) {
      return `${path} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}; it must not be open to other users`;
    }
    return null;
  };
  return (
    check(dir, 'directory (a symbolic link?)', 0o077, (st) => st.isDirectory()) ??
    check(file, 'regular file (a symbolic link?)', 0o022, (st) => st.isFile())
  );
}

let warned = false;

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
  const dir = stackDir();
  const file = `${dir}/endpoints.env`;
  if (process.env[TRUST_ENV] !== '1') {
    const why = stackFileDistrust(dir, file);
    if (why !== null) {
      if (!warned) {
        warned = true;
        process.stderr.write(
          `pcapline: warning: ignoring ${file}: ${why} (run 'npm run stack:up' to fix it, or set ${TRUST_ENV}=1 to use it anyway)\n`,
        );
      }
      return {};
    }
  }
  try {
    const text = readFileSync(file, 'utf8');
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
 * so users with their own cluster point everything at it with two variables. The file is read
 * only when it is ours (stackFileDistrust), else ignored with a one-line warning.
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

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parse as parseProperties } from 'dot-properties';
import { PcaplineError } from '../lib/errors.js';
import { parseStorageUri, StorageUriError } from '../storage/uri.js';

/** Where consumption starts (Metron's FirstPollOffsetStrategy). */
export type StartMode = 'EARLIEST' | 'LATEST' | 'UNCOMMITTED_EARLIEST' | 'UNCOMMITTED_LATEST';
export type TsScheme = 'FROM_KEY' | 'FROM_VALUE';
export type Granularity = 'MILLISECONDS' | 'MICROSECONDS' | 'NANOSECONDS';
/** `kafka.pcap.out.layout` (src/sink/layout.ts). */
export type OutputLayout = 'flat' | 'daily' | 'hourly';

export interface KafkaSecurity {
  protocol: 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';
  saslMechanism?: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  saslUsername?: string;
  saslPassword?: string;
  sslCaFile?: string;
  sslCertFile?: string;
  sslKeyFile?: string;
  sslRejectUnauthorized: boolean;
}

/** The typed configuration of one topology process (start-pcap-topology or the library API). */
export interface TopologyConfig {
  topic: string;
  bootstrapServers: string[];
  groupId: string;
  start: StartMode;
  numPackets: number;
  maxTimeMs: number;
  idleTimeoutMs: number;
  tsScheme: TsScheme;
  granularity: Granularity;
  /** Output directory as a storage URI: webhdfs://host:port/path, file:///path or a plain path. */
  out: string;
  /** Flat (Metron's), or time-bucketed sub-directories for stores that outgrow one directory. */
  layout: OutputLayout;
  /**
   * A token that makes each partition start over once at the start mode's offset even though the
   * store holds more (a deliberate re-ingest); undefined normally.
   */
  reingest?: string;
  replication: number;
  instanceId: string;
  deadLetterTopic?: string;
  metricsPort?: number;
  statsIntervalMs: number;
  /** Bytes buffered per partition before they are sent to storage; bounds memory per open file. */
  chunkBytes: number;
  sessionTimeoutMs: number;
  /** Exit (for a supervisor to restart us) when no fetch completes for this long while work is pending. */
  watchdogMs: number;
  security: KafkaSecurity;
}

/** A bad configuration key or value: one line naming the key, exit 2. */
export class ConfigError extends PcaplineError {
  constructor(
    readonly key: string,
    problem: string,
  ) {
    super('PCAPLINE_CONFIG', `${key}: ${problem}`, { exitCode: 2 });
  }
}

type Setter = (c: TopologyConfig, value: string, key: string) => void;
interface KeySpec {
  set: Setter;
  doc: string;
  example: string;
}

const int =
  (min: number, max = Number.MAX_SAFE_INTEGER) =>
  (value: string, key: string): number => {
    if (!/^-?\d+$/.test(value.trim())) throw new ConfigError(key, `'${value}' is not an integer`);
    const n = Number(value.trim());
    if (n < min || n > max) throw new ConfigError(key, `${n} is out of range [${min}, ${max}]`);
    return n;
  };
const oneOf =
  <T extends string>(allowed: readonly T[], aliases: Record<string, T> = {}) =>
  (value: string, key: string): T => {
    const v = value.trim().toUpperCase();
    if ((allowed as readonly string[]).includes(v)) return v as T;
    if (v in aliases) return aliases[v];
    throw new ConfigError(key, `'${value}' is not one of ${[...allowed, ...Object.keys(aliases)].join(', ')}`);
  };
const bool = (value: string, key: string): boolean => {
  const v = value.trim().toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new ConfigError(key, `'${value}' is not true or false`);
};
const nonEmpty = (value: string, key: string): string => {
  if (!value.trim()) throw new ConfigError(key, 'must not be empty');
  return value.trim();
};
/** Metron's keys that only configured Storm; accepted so existing files load, with a notice. */
const stormOnly: Setter = () => {};

const startModes = ['EARLIEST', 'LATEST', 'UNCOMMITTED_EARLIEST', 'UNCOMMITTED_LATEST'] as const;

/** Every accepted key, its meaning, and how it is parsed. config/pcap.properties documents the same. */
export const CONFIG_KEYS: Record<string, KeySpec> = {
  'spout.kafka.topic.pcap': {
    doc: 'Kafka topic the sensors publish packets to.',
    example: 'pcap',
    set: (c, v, k) => {
      c.topic = nonEmpty(v, k);
      if (!/^[A-Za-z0-9._-]+$/.test(c.topic)) throw new ConfigError(k, `'${v}' is not a valid Kafka topic name`);
    },
  },
  'kafka.bootstrap.servers': {
    doc: 'Kafka bootstrap servers, comma separated (default: $KAFKA_BROKERS, else the local stack).',
    example: '127.0.0.1:9092',
    set: (c, v, k) => {
      const servers = v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (!servers.length || servers.some((s) => !/^[^:\s]+:\d+$/.test(s)))
        throw new ConfigError(k, `'${v}' is not a list of host:port`);
      c.bootstrapServers = servers;
    },
  },
  'kafka.zk': {
    doc: "Metron's ZooKeeper quorum. Ignored: brokers come from kafka.bootstrap.servers.",
    example: 'node1:2181',
    set: stormOnly,
  },
  'kafka.group.id': {
    doc: 'Consumer group shared by every topology process of this ingest.',
    example: 'pcap',
    set: (c, v, k) => {
      c.groupId = nonEmpty(v, k);
    },
  },
  'kafka.pcap.start': {
    doc: "Where to start: UNCOMMITTED_EARLIEST (resume from the group's committed offsets, else the earliest), UNCOMMITTED_LATEST (resume, else the latest), EARLIEST or LATEST (when this process starts, ignore the committed offsets and start at the earliest/latest offset). Exactly-once holds in every mode: ranges the output directory already holds are never written twice (to re-ingest a topic, use a new kafka.pcap.out). Old names START, END, WHERE_I_LEFT_OFF are accepted.",
    example: 'UNCOMMITTED_EARLIEST',
    set: (c, v, k) => {
      c.start = oneOf(startModes, { START: 'EARLIEST', END: 'LATEST', WHERE_I_LEFT_OFF: 'UNCOMMITTED_EARLIEST' })(v, k);
    },
  },
  'kafka.pcap.numPackets': {
    doc: 'Packets per file: a file rolls when it holds this many (checked before each append).',
    example: '1000',
    set: (c, v, k) => {
      c.numPackets = int(1)(v, k);
    },
  },
  'kafka.pcap.maxTimeMS': {
    doc: 'A file rolls when a packet is at least this many ms (packet time) after its first packet; <= 0 disables.',
    example: '300000',
    set: (c, v, k) => {
      c.maxTimeMs = int(Number.MIN_SAFE_INTEGER)(v, k);
    },
  },
  'kafka.pcap.idleTimeoutMS': {
    doc: 'A partition that receives nothing for this long (wall time) has its open file sealed; 0 disables.',
    example: '60000',
    set: (c, v, k) => {
      c.idleTimeoutMs = int(0)(v, k);
    },
  },
  'kafka.pcap.ts_scheme': {
    doc: 'FROM_KEY: the key is an 8-byte big-endian timestamp. FROM_VALUE (alias FROM_PACKET): the value is a one-packet pcap whose header holds the time.',
    example: 'FROM_KEY',
    set: (c, v, k) => {
      c.tsScheme = oneOf(['FROM_KEY', 'FROM_VALUE'] as const, { FROM_PACKET: 'FROM_VALUE' })(v, k);
    },
  },
  'kafka.pcap.ts_granularity': {
    doc: 'Unit of FROM_KEY timestamps: MILLISECONDS, MICROSECONDS (pycapa, fastcapa) or NANOSECONDS.',
    example: 'MICROSECONDS',
    set: (c, v, k) => {
      c.granularity = oneOf(['MILLISECONDS', 'MICROSECONDS', 'NANOSECONDS'] as const)(v, k);
    },
  },
  'kafka.pcap.out': {
    doc: 'Output directory as a storage URI: webhdfs://namenode:9870/path (HDFS) or file:///path; a plain path is on $PCAPLINE_STORE when set, else on local disk (the rule every tool follows).',
    example: '/apps/metron/pcap/input',
    set: (c, v, k) => {
      c.out = nonEmpty(v, k);
      if (!/^[a-z][a-z0-9+.-]*:/i.test(c.out)) return; // a plain path: resolved by the storage rule at start
      try {
        parseStorageUri(c.out); // the same checks and hints as every tool's store argument
      } catch (err) {
        if (!(err instanceof StorageUriError)) throw err;
        throw new ConfigError(k, err.message.split(c.out).join(redactUri(c.out)));
      }
    },
  },
  'kafka.pcap.out.layout': {
    doc: "flat: every data file directly in kafka.pcap.out (Metron's layout). hourly or daily: in YYYY/MM/DD/HH (or YYYY/MM/DD) sub-directories by the UTC time of the file's first packet, for stores that outgrow one directory (HDFS allows 1,048,576 entries per directory by default). Recursive listings and pcap-query read every layout.",
    example: 'flat',
    set: (c, v, k) => {
      c.layout = oneOf(['FLAT', 'DAILY', 'HOURLY'] as const)(v, k).toLowerCase() as OutputLayout;
    },
  },
  'kafka.pcap.reingest': {
    doc: 'Deliberate re-ingest. The output directory is the source of truth: a partition never resumes below what it already holds, whatever the committed offset says. Set this to a new token (e.g. a date) to make each partition start over once at kafka.pcap.start (EARLIEST to store the whole topic again), storing again what the output holds; the token is recorded in the store, so restarts with the same token do not repeat it. Empty: off.',
    example: '',
    set: (c, v, k) => {
      const token = v.trim();
      if (token && !/^[A-Za-z0-9._:-]{1,64}$/.test(token))
        throw new ConfigError(k, "must be up to 64 letters, digits, '.', '_', ':' or '-'");
      c.reingest = token || undefined;
    },
  },
  'kafka.pcap.deadLetterTopic': {
    doc: 'If set, malformed records are copied here (original key and value; reason in the pcapline-reject-reason header).',
    example: '',
    set: (c, v) => {
      c.deadLetterTopic = v.trim() || undefined;
    },
  },
  'hdfs.replication.factor': {
    doc: 'HDFS replication of the files written; <= 0 uses the cluster default.',
    example: '-1',
    set: (c, v, k) => {
      c.replication = int(-1, 512)(v, k);
    },
  },
  'hdfs.sync.every': {
    doc: "Metron's per-packet sync cadence. Ignored: data is made durable when a file is sealed, before offsets are committed.",
    example: '1',
    set: (_c, v, k) => {
      int(0)(v, k);
    },
  },
  'pcap.instance.id': {
    doc: 'Last token of file names (pcap_<topic>_<ts>_<partition>_<id>); must be unique per running process. Default: host name, process id and a random suffix (unique even where every container runs as pid 1). No "_".',
    example: '',
    set: (c, v, k) => {
      const id = nonEmpty(v, k);
      if (!/^[A-Za-z0-9.-]+$/.test(id))
        throw new ConfigError(k, `'${v}' may only contain letters, digits, '.' and '-'`);
      c.instanceId = id;
    },
  },
  'pcap.metrics.port': {
    doc: 'If set, a Prometheus text endpoint is served on 127.0.0.1:<port>/metrics (0 = ephemeral).',
    example: '',
    set: (c, v, k) => {
      c.metricsPort = v.trim() ? int(0, 65535)(v, k) : undefined;
    },
  },
  'pcap.stats.intervalMS': {
    doc: 'Period of the one-line stats log; 0 disables.',
    example: '30000',
    set: (c, v, k) => {
      c.statsIntervalMs = int(0)(v, k);
    },
  },
  'pcap.chunk.bytes': {
    doc: 'Bytes buffered per partition before they are sent to the in-progress file (one streaming upload per file). Bounds memory whatever numPackets is.',
    example: '1048576',
    set: (c, v, k) => {
      c.chunkBytes = int(65536, 256 * 1024 * 1024)(v, k);
    },
  },
  'kafka.session.timeout.ms': {
    doc: 'Consumer group session timeout.',
    example: '30000',
    set: (c, v, k) => {
      c.sessionTimeoutMs = int(6000, 1800000)(v, k);
    },
  },
  'pcap.watchdog.ms': {
    doc: 'Stall watchdog: when no fetch completes for this long, or an assigned partition with records to read makes no progress for this long (after one re-seek), exit 1 so a supervisor restarts the process.',
    example: '120000',
    set: (c, v, k) => {
      c.watchdogMs = int(10000)(v, k);
    },
  },
  'kafka.security.protocol': {
    doc: 'PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.',
    example: 'PLAINTEXT',
    set: (c, v, k) => {
      c.security.protocol = oneOf(['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const)(v, k);
    },
  },
  'kafka.sasl.mechanism': {
    doc: 'SASL mechanism: plain, scram-sha-256 or scram-sha-512.',
    example: '',
    set: (c, v, k) => {
      const m = v.trim().toLowerCase();
      if (!m) return;
      if (m !== 'plain' && m !== 'scram-sha-256' && m !== 'scram-sha-512')
        throw new ConfigError(k, `'${v}' is not plain, scram-sha-256 or scram-sha-512`);
      c.security.saslMechanism = m;
    },
  },
  'kafka.sasl.username': {
    doc: 'SASL user name.',
    example: '',
    set: (c, v) => {
      c.security.saslUsername = v;
    },
  },
  'kafka.sasl.password': {
    doc: 'SASL password.',
    example: '',
    set: (c, v) => {
      c.security.saslPassword = v;
    },
  },
  'kafka.ssl.ca.location': {
    doc: "PEM file of the CA that signed the brokers' certificates.",
    example: '',
    set: (c, v) => {
      c.security.sslCaFile = v.trim() || undefined;
    },
  },
  'kafka.ssl.certificate.location': {
    doc: 'PEM client certificate (mutual TLS).',
    example: '',
    set: (c, v) => {
      c.security.sslCertFile = v.trim() || undefined;
    },
  },
  'kafka.ssl.key.location': {
    doc: 'PEM client key (mutual TLS).',
    example: '',
    set: (c, v) => {
      c.security.sslKeyFile = v.trim() || undefined;
    },
  },
  'kafka.ssl.reject.unauthorized': {
    doc: "Verify the brokers' certificates.",
    example: 'true',
    set: (c, v, k) => {
      c.security.sslRejectUnauthorized = bool(v, k);
    },
  },
  // Storm-only keys of Metron's shipped pcap.properties: accepted so existing files load.
  'topology.workers': {
    doc: 'Storm only; ignored. Scale out by running more processes with the same kafka.group.id.',
    example: '1',
    set: stormOnly,
  },
  'topology.worker.childopts': { doc: 'Storm only; ignored.', example: '', set: stormOnly },
  'topology.auto-credentials': { doc: 'Storm only; ignored.', example: '[]', set: stormOnly },
  'kafka.spout.parallelism': {
    doc: 'Storm only; ignored. One process consumes every partition assigned to it.',
    example: '1',
    set: stormOnly,
  },
};

/** Keys accepted for compatibility but without effect; `loadTopologyConfig` reports them as notices. */
export const IGNORED_KEYS = new Set([
  'kafka.zk',
  'hdfs.sync.every',
  'topology.workers',
  'topology.worker.childopts',
  'topology.auto-credentials',
  'kafka.spout.parallelism',
]);

/**
 * Host name and pid alone collide where every container runs its process as pid 1 under the same
 * host name pattern: a random suffix keeps two processes from ever producing the same file name.
 */
export function defaultInstanceId(): string {
  return `${hostname().replace(/[^A-Za-z0-9.-]/g, '-')}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

export function defaultConfig(env: NodeJS.ProcessEnv = process.env): TopologyConfig {
  return {
    topic: 'pcap',
    bootstrapServers: (env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((s) => s.trim()),
    groupId: 'pcap',
    start: 'UNCOMMITTED_EARLIEST',
    numPackets: 1000,
    maxTimeMs: 300000,
    idleTimeoutMs: 60000,
    tsScheme: 'FROM_KEY',
    granularity: 'MICROSECONDS',
    out: '/apps/metron/pcap/input',
    layout: 'flat',
    replication: -1,
    instanceId: defaultInstanceId(),
    statsIntervalMs: 30000,
    // Sent as part of one streaming upload per file, a chunk costs no block close: small is free.
    chunkBytes: 1024 * 1024,
    sessionTimeoutMs: 30000,
    watchdogMs: 120000,
    security: { protocol: 'PLAINTEXT', sslRejectUnauthorized: true },
  };
}

/** Applies key/value pairs onto a config; unknown keys and bad values throw ConfigError naming the key. */
export function applyConfig(config: TopologyConfig, pairs: Record<string, string>): string[] {
  const notices: string[] = [];
  for (const [key, value] of Object.entries(pairs)) {
    const spec = CONFIG_KEYS[key];
    if (!spec) {
      // A mistyped secret key can carry the secret itself (`kafka.sasl.password:hunter2`): never quote it.
      if (/pass|secret|credential/i.test(key))
        throw new ConfigError(
          'an unknown key resembling kafka.sasl.password',
          'unknown configuration key (not shown: it may hold a secret; see config/pcap.properties for the accepted keys)',
        );
      throw new ConfigError(key, 'unknown configuration key (see config/pcap.properties for the accepted keys)');
    }
    spec.set(config, value, key);
    if (IGNORED_KEYS.has(key)) notices.push(`${key} is accepted for compatibility and ignored: ${spec.doc}`);
  }
  const sec = config.security;
  if (
    sec.protocol.startsWith('SASL') &&
    !(sec.saslMechanism && sec.saslUsername !== undefined && sec.saslPassword !== undefined)
  ) {
    throw new ConfigError(
      'kafka.sasl.mechanism',
      `${sec.protocol} needs kafka.sasl.mechanism, kafka.sasl.username and kafka.sasl.password`,
    );
  }
  return notices;
}

/** A URI with any password in its user info replaced by `***`, for logs and messages. */
export function redactUri(uri: string): string {
  return uri.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*:)[^/@]*@/i, '$1***@');
}

/**
 * Parses `-D key=value` arguments. A malformed one is never echoed whole: it may be a secret typed
 * with the wrong separator (`-D kafka.sasl.password:hunter2`). Only a known key name is quoted.
 */
export function parseOverrides(defs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  defs.forEach((d, n) => {
    const i = d.indexOf('=');
    if (i <= 0) {
      const named = d.trim() in CONFIG_KEYS ? d.trim() : `-D argument ${n + 1}`;
      throw new ConfigError(
        named,
        'a -D override must look like key=value (the argument is not shown: it may hold a secret)',
      );
    }
    out[d.slice(0, i).trim()] = d.slice(i + 1);
  });
  return out;
}

/** Loads a Java .properties file (if given) and -D overrides over the defaults, validating every key. */
export function loadTopologyConfig(
  file: string | undefined,
  overrides: Record<string, string>,
  env = process.env,
): { config: TopologyConfig; notices: string[] } {
  const config = defaultConfig(env);
  let fromFile: Record<string, string> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError('-c', `cannot read ${file}: ${(err as Error).message}`);
    }
    fromFile = parseProperties(text) as Record<string, string>;
  }
  const notices = applyConfig(config, { ...fromFile, ...overrides });
  return { config, notices };
}

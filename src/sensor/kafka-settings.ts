/**
 * `-X key=value`: Kafka client settings in the librdkafka names pycapa's users know (pycapa passes
 * them to confluent-kafka), mapped onto kafkajs where kafkajs has an equivalent. A key with no
 * equivalent is refused with one line rather than silently ignored: a setting a user believes is
 * in force (say `compression.type=zstd` or `message.timeout.ms`) must not quietly do nothing.
 */
import { readFileSync } from 'node:fs';
import type { ConsumerConfig, KafkaConfig, ProducerConfig, SASLOptions } from 'kafkajs';
import { UsageError } from '../lib/errors.js';

export type KafkaRole = 'producer' | 'consumer';

/** kafkajs's CompressionTypes values (only None and GZIP have built-in codecs). */
export const COMPRESSION = { none: 0, gzip: 1 } as const;

export interface KafkaSettings {
  /** bootstrap.servers, when given with -X. */
  brokers?: string[];
  client: Pick<KafkaConfig, 'clientId' | 'ssl' | 'sasl' | 'connectionTimeout' | 'requestTimeout'> & {
    retry: NonNullable<KafkaConfig['retry']>;
  };
  producer: Pick<ProducerConfig, 'idempotent' | 'maxInFlightRequests'>;
  send: { acks: -1 | 0 | 1; compression: 0 | 1; timeoutMs?: number };
  /** Our batching in front of kafkajs, which has no linger of its own (each send is one request). */
  batch: { lingerMs: number; maxMessages: number; maxBytes: number };
  consumer: Partial<
    Pick<
      ConsumerConfig,
      | 'sessionTimeout'
      | 'heartbeatInterval'
      | 'minBytes'
      | 'maxBytes'
      | 'maxBytesPerPartition'
      | 'maxWaitTimeInMs'
      | 'readUncommitted'
    >
  >;
  /** group.id (pcap-tail: join this group and commit to it instead of reading standalone). */
  groupId?: string;
}

interface Security {
  protocol?: 'plaintext' | 'ssl' | 'sasl_plaintext' | 'sasl_ssl';
  mechanism?: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  username?: string;
  password?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  keyPassword?: string;
  verify: boolean;
}

interface Key {
  roles: readonly KafkaRole[];
  apply(s: KafkaSettings, sec: Security, value: string, key: string): void;
}

const BOTH: readonly KafkaRole[] = ['producer', 'consumer'];
const PRODUCER: readonly KafkaRole[] = ['producer'];
const CONSUMER: readonly KafkaRole[] = ['consumer'];

function count(value: string, key: string, min = 0): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < min)
    throw new UsageError(`-X ${key}=${value}: expected an integer >= ${min}`);
  return Number(value);
}

function flag(value: string, key: string): boolean {
  const v = value.trim().toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new UsageError(`-X ${key}=${value}: expected true or false`);
}

function choice<T extends string>(options: readonly T[]) {
  return (value: string, key: string): T => {
    const v = value.trim().toLowerCase() as T;
    if (!options.includes(v)) throw new UsageError(`-X ${key}=${value}: expected one of ${options.join(', ')}`);
    return v;
  };
}

const nonEmpty = (value: string, key: string): string => {
  if (value === '') throw new UsageError(`-X ${key}: empty value`);
  return value;
};

const KEYS: Record<string, Key> = {
  'bootstrap.servers': {
    roles: BOTH,
    apply: (s, _sec, v, k) => {
      s.brokers = nonEmpty(v, k)
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean);
    },
  },
  'client.id': {
    roles: BOTH,
    apply: (s, _sec, v, k) => {
      s.client.clientId = nonEmpty(v, k);
    },
  },
  'socket.connection.setup.timeout.ms': {
    roles: BOTH,
    apply: (s, _sec, v, k) => {
      s.client.connectionTimeout = count(v, k, 1);
    },
  },
  'request.timeout.ms': {
    roles: BOTH,
    apply: (s, _sec, v, k) => {
      s.client.requestTimeout = count(v, k, 1);
      s.send.timeoutMs = s.client.requestTimeout;
    },
  },
  retries: {
    roles: BOTH,
    apply: (s, _sec, v, k) => {
      s.client.retry.retries = count(v, k);
    },
  },
  'retry.backoff.ms': {
    roles: BOTH,
    apply: (s, _sec, v, k) => {
      s.client.retry.initialRetryTime = count(v, k, 1);
    },
  },
  'retry.backoff.max.ms': {
    roles: BOTH,
    apply: (s, _sec, v, k) => {
      s.client.retry.maxRetryTime = count(v, k, 1);
    },
  },
  'security.protocol': {
    roles: BOTH,
    apply: (_s, sec, v, k) => {
      sec.protocol = choice(['plaintext', 'ssl', 'sasl_plaintext', 'sasl_ssl'] as const)(v, k);
    },
  },
  'sasl.mechanism': {
    roles: BOTH,
    apply: (_s, sec, v, k) => {
      sec.mechanism = choice(['plain', 'scram-sha-256', 'scram-sha-512'] as const)(v, k);
    },
  },
  'sasl.username': {
    roles: BOTH,
    apply: (_s, sec, v) => {
      sec.username = v;
    },
  },
  'sasl.password': {
    roles: BOTH,
    apply: (_s, sec, v) => {
      sec.password = v;
    },
  },
  'ssl.ca.location': {
    roles: BOTH,
    apply: (_s, sec, v, k) => {
      sec.caFile = nonEmpty(v, k);
    },
  },
  'ssl.certificate.location': {
    roles: BOTH,
    apply: (_s, sec, v, k) => {
      sec.certFile = nonEmpty(v, k);
    },
  },
  'ssl.key.location': {
    roles: BOTH,
    apply: (_s, sec, v, k) => {
      sec.keyFile = nonEmpty(v, k);
    },
  },
  'ssl.key.password': {
    roles: BOTH,
    apply: (_s, sec, v) => {
      sec.keyPassword = v;
    },
  },
  'enable.ssl.certificate.verification': {
    roles: BOTH,
    apply: (_s, sec, v, k) => {
      sec.verify = flag(v, k);
    },
  },

  acks: {
    roles: PRODUCER,
    apply: (s, _sec, v, k) => {
      s.send.acks = acks(v, k);
    },
  },
  'compression.type': {
    roles: PRODUCER,
    apply: (s, _sec, v, k) => {
      s.send.compression = compression(v, k);
    },
  },
  'linger.ms': {
    roles: PRODUCER,
    apply: (s, _sec, v, k) => {
      s.batch.lingerMs = count(v, k);
    },
  },
  'batch.num.messages': {
    roles: PRODUCER,
    apply: (s, _sec, v, k) => {
      s.batch.maxMessages = count(v, k, 1);
    },
  },
  'batch.size': {
    roles: PRODUCER,
    apply: (s, _sec, v, k) => {
      s.batch.maxBytes = count(v, k, 1);
    },
  },
  'enable.idempotence': {
    roles: PRODUCER,
    apply: (s, _sec, v, k) => {
      s.producer.idempotent = flag(v, k);
    },
  },
  'max.in.flight.requests.per.connection': {
    roles: PRODUCER,
    apply: (s, _sec, v, k) => {
      s.producer.maxInFlightRequests = count(v, k, 1);
    },
  },

  'group.id': {
    roles: CONSUMER,
    apply: (s, _sec, v, k) => {
      s.groupId = nonEmpty(v, k);
    },
  },
  'session.timeout.ms': {
    roles: CONSUMER,
    apply: (s, _sec, v, k) => {
      s.consumer.sessionTimeout = count(v, k, 1);
    },
  },
  'heartbeat.interval.ms': {
    roles: CONSUMER,
    apply: (s, _sec, v, k) => {
      s.consumer.heartbeatInterval = count(v, k, 1);
    },
  },
  'fetch.min.bytes': {
    roles: CONSUMER,
    apply: (s, _sec, v, k) => {
      s.consumer.minBytes = count(v, k, 1);
    },
  },
  'fetch.max.bytes': {
    roles: CONSUMER,
    apply: (s, _sec, v, k) => {
      s.consumer.maxBytes = count(v, k, 1);
    },
  },
  'max.partition.fetch.bytes': {
    roles: CONSUMER,
    apply: (s, _sec, v, k) => {
      s.consumer.maxBytesPerPartition = count(v, k, 1);
    },
  },
  'fetch.wait.max.ms': {
    roles: CONSUMER,
    apply: (s, _sec, v, k) => {
      s.consumer.maxWaitTimeInMs = count(v, k, 1);
    },
  },
  'isolation.level': {
    roles: CONSUMER,
    apply: (s, _sec, v, k) => {
      s.consumer.readUncommitted = choice(['read_committed', 'read_uncommitted'] as const)(v, k) === 'read_uncommitted';
    },
  },
};

/** librdkafka's other names for the same settings. */
const ALIASES: Record<string, string> = {
  'metadata.broker.list': 'bootstrap.servers',
  'message.send.max.retries': 'retries',
  'sasl.mechanisms': 'sasl.mechanism',
  'request.required.acks': 'acks',
  'compression.codec': 'compression.type',
  'queue.buffering.max.ms': 'linger.ms',
  'max.in.flight': 'max.in.flight.requests.per.connection',
  'fetch.max.wait.ms': 'fetch.wait.max.ms',
  'fetch.message.max.bytes': 'max.partition.fetch.bytes',
};

function acks(value: string, key: string): -1 | 0 | 1 {
  const v = value.trim().toLowerCase();
  if (v === 'all' || v === '-1') return -1;
  if (v === '0') return 0;
  if (v === '1') return 1;
  throw new UsageError(`-X ${key}=${value}: expected all, -1, 0 or 1`);
}

function compression(value: string, key: string): 0 | 1 {
  const v = value.trim().toLowerCase();
  if (v === 'none') return COMPRESSION.none;
  if (v === 'gzip') return COMPRESSION.gzip;
  if (v === 'snappy' || v === 'lz4' || v === 'zstd' || v === 'inherit')
    throw new UsageError(`-X ${key}=${value}: this client (kafkajs) can only produce none or gzip`);
  throw new UsageError(`-X ${key}=${value}: expected none or gzip`);
}

/** The keys a role accepts (for --help and error messages), canonical names first. */
export function kafkaSettingKeys(role: KafkaRole): string[] {
  const canonical = Object.keys(KEYS).filter((k) => KEYS[k].roles.includes(role));
  const aliases = Object.keys(ALIASES).filter((a) => KEYS[ALIASES[a]].roles.includes(role));
  return [...canonical, ...aliases];
}

export function defaultKafkaSettings(clientId: string): KafkaSettings {
  return {
    client: { clientId, retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 10_000 } },
    producer: {},
    send: { acks: -1, compression: COMPRESSION.none },
    batch: { lingerMs: 5, maxMessages: 1000, maxBytes: 1_000_000 },
    consumer: {},
  };
}

/**
 * Parses repeated `-X key=value` arguments for a role. Throws UsageError (exit 2) naming the first
 * bad one: no '=', an unknown key, a key of the other role (a consumer setting given to the
 * producer), or a value out of range. SSL files are read here, so a missing one is a usage error too.
 */
export function parseKafkaSettings(pairs: readonly string[], role: KafkaRole, clientId: string): KafkaSettings {
  const s = defaultKafkaSettings(clientId);
  const sec: Security = { verify: true };
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`-X ${pair}: expected key=value`);
    const given = pair.slice(0, eq).trim();
    const name = ALIASES[given] ?? given;
    const def = KEYS[name];
    if (!def) throw new UsageError(`-X ${given}: unknown or unsupported Kafka setting (see --help for the list)`);
    if (!def.roles.includes(role)) throw new UsageError(`-X ${given}: a ${def.roles[0]} setting; not used here`);
    def.apply(s, sec, pair.slice(eq + 1), given);
  }
  applySecurity(s, sec);
  if (s.producer.idempotent && s.send.acks !== -1)
    throw new UsageError('-X enable.idempotence=true needs acks=all (Kafka refuses idempotence with fewer acks)');
  return s;
}

function readPem(path: string, key: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`-X ${key}=${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function applySecurity(s: KafkaSettings, sec: Security): void {
  const protocol = sec.protocol ?? 'plaintext';
  const tls = protocol === 'ssl' || protocol === 'sasl_ssl';
  const sasl = protocol === 'sasl_plaintext' || protocol === 'sasl_ssl';
  // As everywhere in this module: a setting that would have no effect is an error, not a no-op.
  if (!tls && (sec.caFile || sec.certFile || sec.keyFile))
    throw new UsageError(`-X ssl.*: needs security.protocol=ssl or sasl_ssl (it is ${protocol})`);
  if (!sasl && (sec.mechanism || sec.username !== undefined))
    throw new UsageError(`-X sasl.*: needs security.protocol=sasl_plaintext or sasl_ssl (it is ${protocol})`);
  if (tls) {
    s.client.ssl = {
      rejectUnauthorized: sec.verify,
      ...(sec.caFile ? { ca: [readPem(sec.caFile, 'ssl.ca.location')] } : {}),
      ...(sec.certFile ? { cert: readPem(sec.certFile, 'ssl.certificate.location') } : {}),
      ...(sec.keyFile ? { key: readPem(sec.keyFile, 'ssl.key.location') } : {}),
      ...(sec.keyPassword !== undefined ? { passphrase: sec.keyPassword } : {}),
    };
  }
  if (sasl) {
    if (!sec.mechanism || sec.username === undefined || sec.password === undefined)
      throw new UsageError(`-X security.protocol=${protocol} needs sasl.mechanism, sasl.username and sasl.password`);
    s.client.sasl = { mechanism: sec.mechanism, username: sec.username, password: sec.password } as SASLOptions;
  }
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'dot-properties';
import {
  applyConfig,
  CONFIG_KEYS,
  ConfigError,
  defaultConfig,
  IGNORED_KEYS,
  loadTopologyConfig,
  parseOverrides,
} from '../../src/config/topology-config.js';

test('the shipped config/pcap.properties loads and documents every accepted key', () => {
  const { config } = loadTopologyConfig('config/pcap.properties', {});
  assert.equal(config.topic, 'pcap');
  assert.equal(config.start, 'UNCOMMITTED_EARLIEST');
  assert.equal(config.numPackets, 1000);
  assert.equal(config.granularity, 'MICROSECONDS');
  const text = readFileSync('config/pcap.properties', 'utf8');
  for (const key of Object.keys(CONFIG_KEYS)) assert.ok(text.includes(key), `config/pcap.properties mentions ${key}`);
});

test("Metron's shipped keys load; Storm-only keys are accepted with a notice", () => {
  const c = defaultConfig({});
  const notices = applyConfig(c, {
    'topology.workers': '1',
    'topology.worker.childopts': '',
    'topology.auto-credentials': '[]',
    'spout.kafka.topic.pcap': 'pcap',
    'kafka.zk': 'node1:2181',
    'hdfs.sync.every': '1',
    'hdfs.replication.factor': '-1',
    'kafka.security.protocol': 'PLAINTEXT',
    'kafka.pcap.start': 'UNCOMMITTED_EARLIEST',
    'kafka.pcap.numPackets': '1000',
    'kafka.pcap.maxTimeMS': '300000',
    'kafka.pcap.ts_scheme': 'FROM_KEY',
    'kafka.pcap.out': '/apps/metron/pcap/input',
    'kafka.pcap.ts_granularity': 'MICROSECONDS',
    'kafka.spout.parallelism': '1',
  });
  assert.equal(notices.length, [...IGNORED_KEYS].length);
  assert.ok(notices.some((n) => n.startsWith('kafka.zk')));
});

test('old start names and FROM_PACKET map to their current meaning', () => {
  const c = defaultConfig({});
  applyConfig(c, { 'kafka.pcap.start': 'WHERE_I_LEFT_OFF', 'kafka.pcap.ts_scheme': 'from_packet' });
  assert.equal(c.start, 'UNCOMMITTED_EARLIEST');
  assert.equal(c.tsScheme, 'FROM_VALUE');
  applyConfig(c, { 'kafka.pcap.start': 'START' });
  assert.equal(c.start, 'EARLIEST');
  applyConfig(c, { 'kafka.pcap.start': 'END' });
  assert.equal(c.start, 'LATEST');
});

test('unknown keys and bad values fail naming the key', () => {
  const cases: [Record<string, string>, string, RegExp][] = [
    [{ 'kafka.pcap.numPacket': '10' }, 'kafka.pcap.numPacket', /unknown configuration key/],
    [{ 'kafka.pcap.numPackets': 'ten' }, 'kafka.pcap.numPackets', /not an integer/],
    [{ 'kafka.pcap.numPackets': '-1' }, 'kafka.pcap.numPackets', /out of range/],
    [{ 'kafka.pcap.numPackets': '0' }, 'kafka.pcap.numPackets', /out of range \[1,/],
    [{ 'kafka.pcap.ts_granularity': 'SECONDS' }, 'kafka.pcap.ts_granularity', /not one of/],
    [{ 'kafka.pcap.start': 'BEGINNING' }, 'kafka.pcap.start', /not one of/],
    [{ 'kafka.pcap.out': 'hdfs://nn:8020/x' }, 'kafka.pcap.out', /HDFS is reached over WebHDFS: write webhdfs:\/\//],
    [{ 'kafka.pcap.out': 'swebhdfs://nn:9871/x' }, 'kafka.pcap.out', /not supported yet/],
    [{ 'kafka.pcap.out': 'file:///tmp/%zz' }, 'kafka.pcap.out', /% is not followed by two hex digits/],
    [{ 'kafka.pcap.out': 'hdfs://alice:s3cret@nn:8020/x' }, 'kafka.pcap.out', /^(?![\s\S]*s3cret)/],
    [{ 'kafka.bootstrap.servers': 'localhost' }, 'kafka.bootstrap.servers', /host:port/],
    [{ 'pcap.instance.id': 'a_b' }, 'pcap.instance.id', /letters, digits/],
    [{ 'kafka.security.protocol': 'SASL_SSL' }, 'kafka.sasl.mechanism', /needs/],
    [{ 'kafka.ssl.reject.unauthorized': 'yes' }, 'kafka.ssl.reject.unauthorized', /true or false/],
  ];
  for (const [pairs, key, message] of cases) {
    assert.throws(
      () => applyConfig(defaultConfig({}), pairs),
      (err: unknown) => err instanceof ConfigError && err.key === key && message.test(err.message),
      JSON.stringify(pairs),
    );
  }
});

test('-D overrides win over the file; malformed -D fails', () => {
  const { config } = loadTopologyConfig(
    'config/pcap.properties',
    parseOverrides(['kafka.pcap.numPackets=2', 'kafka.pcap.out=file:///tmp/x']),
  );
  assert.equal(config.numPackets, 2);
  assert.equal(config.out, 'file:///tmp/x');
  assert.throws(() => parseOverrides(['novalue']), ConfigError);
});

test('properties syntax follows Java (continuations, ":" separators, "!" comments)', () => {
  const parsed = parse('! comment\nkafka.pcap.numPackets : 5\nkafka.pcap.out=/a/\\\n  b\n') as Record<string, string>;
  const c = defaultConfig({});
  applyConfig(c, parsed);
  assert.equal(c.numPackets, 5);
  assert.equal(c.out, '/a/b');
});

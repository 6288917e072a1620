import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PcaplineError } from '../../src/lib/errors.js';
import { COMPRESSION, kafkaSettingKeys, parseKafkaSettings } from '../../src/sensor/kafka-settings.js';

const usage = (fn: () => unknown, pattern: RegExp): void =>
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof PcaplineError, 'a PcaplineError');
    assert.equal(err.exitCode, 2);
    assert.match(err.message, pattern);
    assert.doesNotMatch(err.message, /\n/);
    return true;
  });

describe('-X Kafka settings', () => {
  it('maps producer settings in librdkafka names onto kafkajs and our batching', () => {
    const s = parseKafkaSettings(
      [
        'client.id=sensor-7',
        'acks=1',
        'compression.type=gzip',
        'linger.ms=20',
        'batch.num.messages=500',
        'batch.size=65536',
        'request.timeout.ms=9000',
        'retries=3',
        'bootstrap.servers=a:9092, b:9092',
      ],
      'producer',
      'pcap-replay',
    );
    assert.equal(s.client.clientId, 'sensor-7');
    assert.equal(s.send.acks, 1);
    assert.equal(s.send.compression, COMPRESSION.gzip);
    assert.deepEqual(s.batch, { lingerMs: 20, maxMessages: 500, maxBytes: 65536 });
    assert.equal(s.client.requestTimeout, 9000);
    assert.equal(s.send.timeoutMs, 9000);
    assert.equal(s.client.retry.retries, 3);
    assert.deepEqual(s.brokers, ['a:9092', 'b:9092']);
  });

  it('accepts librdkafka aliases (request.required.acks, compression.codec, queue.buffering.max.ms, acks=all)', () => {
    const s = parseKafkaSettings(
      ['request.required.acks=all', 'compression.codec=none', 'queue.buffering.max.ms=0'],
      'producer',
      'x',
    );
    assert.equal(s.send.acks, -1);
    assert.equal(s.send.compression, COMPRESSION.none);
    assert.equal(s.batch.lingerMs, 0);
  });

  it('defaults: acks all, no compression, the client id given', () => {
    const s = parseKafkaSettings([], 'producer', 'pcap-replay');
    assert.equal(s.send.acks, -1);
    assert.equal(s.send.compression, COMPRESSION.none);
    assert.equal(s.client.clientId, 'pcap-replay');
    assert.equal(s.client.ssl, undefined);
    assert.equal(s.client.sasl, undefined);
  });

  it('maps consumer settings and group.id', () => {
    const s = parseKafkaSettings(
      [
        'group.id=analysts',
        'fetch.min.bytes=1024',
        'fetch.wait.max.ms=250',
        'max.partition.fetch.bytes=2097152',
        'session.timeout.ms=45000',
        'isolation.level=read_uncommitted',
      ],
      'consumer',
      'pcap-tail',
    );
    assert.equal(s.groupId, 'analysts');
    assert.deepEqual(s.consumer, {
      minBytes: 1024,
      maxWaitTimeInMs: 250,
      maxBytesPerPartition: 2097152,
      sessionTimeout: 45000,
      readUncommitted: true,
    });
  });

  it('SASL over TLS with a CA file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'i13-settings-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const s = parseKafkaSettings(
      [
        'security.protocol=SASL_SSL',
        'sasl.mechanisms=SCRAM-SHA-512',
        'sasl.username=u',
        'sasl.password=p=w',
        `ssl.ca.location=${ca}`,
        'enable.ssl.certificate.verification=false',
      ],
      'consumer',
      'x',
    );
    assert.deepEqual(s.client.sasl, { mechanism: 'scram-sha-512', username: 'u', password: 'p=w' });
    assert.equal((s.client.ssl as { rejectUnauthorized: boolean }).rejectUnauthorized, false);
    assert.match(String((s.client.ssl as { ca: string[] }).ca[0]), /BEGIN CERTIFICATE/);
  });

  it('refuses, in one line, what would otherwise silently do nothing', () => {
    usage(() => parseKafkaSettings(['message.timeout.ms=1000'], 'producer', 'x'), /message\.timeout\.ms: unknown/);
    usage(() => parseKafkaSettings(['nonsense'], 'producer', 'x'), /expected key=value/);
    usage(() => parseKafkaSettings(['compression.type=zstd'], 'producer', 'x'), /none or gzip/);
    usage(() => parseKafkaSettings(['acks=2'], 'producer', 'x'), /all, -1, 0 or 1/);
    usage(() => parseKafkaSettings(['linger.ms=soon'], 'producer', 'x'), /integer/);
    usage(() => parseKafkaSettings(['group.id=g'], 'producer', 'x'), /consumer setting/);
    usage(() => parseKafkaSettings(['linger.ms=5'], 'consumer', 'x'), /producer setting/);
    usage(() => parseKafkaSettings(['sasl.mechanism=plain'], 'producer', 'x'), /needs security\.protocol=sasl/);
    usage(() => parseKafkaSettings(['ssl.ca.location=/x.pem'], 'producer', 'x'), /needs security\.protocol=ssl/);
    usage(
      () => parseKafkaSettings(['security.protocol=sasl_plaintext', 'sasl.mechanism=plain'], 'producer', 'x'),
      /needs sasl\.mechanism, sasl\.username and sasl\.password/,
    );
    usage(
      () => parseKafkaSettings(['security.protocol=ssl', 'ssl.ca.location=/nonexistent/ca.pem'], 'consumer', 'x'),
      /ssl\.ca\.location=\/nonexistent\/ca\.pem: ENOENT/,
    );
    usage(
      () => parseKafkaSettings(['enable.idempotence=true', 'acks=1'], 'producer', 'x'),
      /idempotence=true needs acks=all/,
    );
  });

  it('lists the keys each role takes (the --help text names the same ones)', () => {
    const producer = kafkaSettingKeys('producer');
    const consumer = kafkaSettingKeys('consumer');
    for (const k of ['acks', 'linger.ms', 'compression.type', 'security.protocol', 'client.id'])
      assert.ok(producer.includes(k), k);
    for (const k of ['group.id', 'fetch.min.bytes', 'security.protocol']) assert.ok(consumer.includes(k), k);
    assert.ok(!producer.includes('group.id'));
    assert.ok(!consumer.includes('acks'));
  });
});

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureStack, uniqueName } from '../helpers/stack.js';
import { createTopic, produce, readStore, tsKey } from '../helpers/ingest.js';
import { readSequenceFile } from '../../src/formats/sequencefile/index.js';
import { defaultConfig, applyConfig } from '../../src/config/topology-config.js';
import { Topology, type SealedFile } from '../../src/topology.js';
import { createLogger } from '../../src/lib/log.js';
import { SAMPLE_PATH } from '../helpers/fixtures.js';

const SAMPLE = SAMPLE_PATH;

interface SampleRecord {
  tsNs: bigint;
  value: Buffer;
}
const sample: SampleRecord[] = [];
let endpoints: ReturnType<typeof ensureStack>;

before(async () => {
  endpoints = ensureStack();
  for await (const r of readSequenceFile(createReadStream(SAMPLE)))
    sample.push({ tsNs: r.tsNs!, value: Buffer.from(r.value) });
  assert.equal(sample.length, 20);
});

/**
 * Metron's PcapTopologyIntegrationTest ingest vector (metron-compat §8.9): the 20 sample packets,
 * headers stripped, ns keys, one partition, numPackets=2 → exactly 10 finished files whose values
 * are byte-identical to the sample's.
 */
async function ingestVector(out: string): Promise<void> {
  const topic = uniqueName('metron-vector');
  await createTopic(endpoints.kafkaBrokers, topic, 1);
  await produce(
    endpoints.kafkaBrokers,
    topic,
    sample.map((r) => ({ partition: 0, key: tsKey(r.tsNs), value: r.value.subarray(40) })),
  );
  const config = defaultConfig({});
  applyConfig(config, {
    'spout.kafka.topic.pcap': topic,
    'kafka.bootstrap.servers': endpoints.kafkaBrokers,
    'kafka.group.id': uniqueName('g'),
    'kafka.pcap.start': 'EARLIEST',
    'kafka.pcap.numPackets': '2',
    'kafka.pcap.maxTimeMS': '200000000',
    'kafka.pcap.ts_granularity': 'NANOSECONDS',
    'kafka.pcap.out': out,
    'pcap.instance.id': 'vector',
    'kafka.pcap.idleTimeoutMS': '0',
  });
  const topology = await Topology.start(config, { log: createLogger('test', 'warn') });
  const sealed: SealedFile[] = [];
  topology.on('sealed', (f: SealedFile) => sealed.push(f));
  const deadline = Date.now() + 60000;
  while (sealed.length < 9 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await topology.stop(); // seals the tenth file
  assert.equal(sealed.length, 10, 'ten files sealed');

  const files = await readStore(out);
  assert.equal(files.length, 10, 'exactly 10 finished data files in the output directory');
  const stored = files.flatMap((f) => f.records).sort((a, b) => (a.tsNs < b.tsNs ? -1 : a.tsNs > b.tsNs ? 1 : 0));
  assert.equal(stored.length, 20);
  for (let i = 0; i < 20; i++) {
    assert.equal(stored[i].tsNs, sample[i].tsNs, `key of record ${i} is the ns timestamp`);
    assert.ok(stored[i].value.equals(sample[i].value), `value of record ${i} is byte-identical to the sample`);
  }
  for (const f of files) {
    assert.equal(f.records.length, 2);
    assert.match(
      f.name,
      new RegExp(`^pcap_${topic}_${f.records[0].tsNs}_0_vector$`),
      'Metron file name with the first packet time',
    );
    assert.ok(f.index, `index for ${f.name}`);
    assert.equal(f.index!.summary.count, 2);
    assert.equal(BigInt(f.index!.summary.minTsNs), f.records[0].tsNs);
    assert.equal(BigInt(f.index!.summary.maxTsNs), f.records[1].tsNs);
    assert.deepEqual(
      [...f.index!.columns.pos.subarray(0, 2)],
      f.records.map((r) => r.position),
      'index positions match the data file',
    );
    assert.equal(f.index!.addresses.length, 2);
  }
}

test('Metron ingest vector on HDFS (WebHDFS)', async () => {
  await ingestVector(`${endpoints.webhdfsUrl}/${uniqueName('vector')}/apps/metron/pcap/input`);
});

test('Metron ingest vector on the local back end', async () => {
  await ingestVector(join(mkdtempSync(join(tmpdir(), 'pcapline-')), 'input'));
});

/**
 * Soak test of the ingest under constant rebalances (not part of npm test):
 *   3 start-pcap-topology processes in one group, a steady replay for --minutes, and every 20-60 s
 *   a random process killed with SIGKILL and restarted; then the replay stops and the group drains.
 * Prints the figures and exits 1 unless every packet is stored exactly once and the lag is 0.
 *
 *   node --import tsx bench/soak-ingest.ts [--minutes 10] [--rate 1000] [--partitions 6]
 *        [--numPackets 20000] [--idleTimeoutMS 10000] [--seed 1]
 *
 * Runs on the local stack (or KAFKA_BROKERS + WEBHDFS_URL). Topic, group and output are new each run.
 */
import { parseArgs } from 'node:util';
import kafkajs from 'kafkajs';
import { openStorage, parseStorageUri } from '../src/storage/index.js';
import { readSequenceFile } from '../src/formats/sequencefile/index.js';
import { TopologyProcess, waitForDrain } from '../test/helpers/topology-process.js';
import { tsKey, udpFrame } from '../test/helpers/ingest.js';
import { ensureStack, sleep } from './lib.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '1000' },
    partitions: { type: 'string', default: '6' },
    numPackets: { type: 'string', default: '20000' },
    idleTimeoutMS: { type: 'string', default: '10000' },
    seed: { type: 'string', default: '1' },
  },
});
const minutes = Number(values.minutes);
const rate = Number(values.rate);
const partitions = Number(values.partitions);
let seed = Number(values.seed);
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};

const endpoints = ensureStack();
const run = `i16-soak-${Date.now().toString(36)}`;
const topic = run;
const group = `${run}-g`;
const out = `${endpoints.webhdfsUrl}/${run}/pcap`;
const logDir = `/tmp/pcapline-soak/${run}`;
const kafka = new kafkajs.Kafka({
  clientId: 'soak',
  brokers: [endpoints.kafkaBrokers],
  logLevel: kafkajs.logLevel.NOTHING,
});

const idFor = (p: number, i: number) => `p${p}-${String(i).padStart(12, '0')}`.slice(0, 16).padEnd(16, '.');

async function main(): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  const config = {
    'spout.kafka.topic.pcap': topic,
    'kafka.bootstrap.servers': endpoints.kafkaBrokers,
    'kafka.group.id': group,
    'kafka.pcap.out': out,
    'kafka.pcap.numPackets': values.numPackets!,
    'kafka.pcap.maxTimeMS': '0',
    'kafka.pcap.idleTimeoutMS': values.idleTimeoutMS!,
    'kafka.session.timeout.ms': '6000',
    'pcap.stats.intervalMS': '10000',
  };
  let starts = 0;
  const launch = (slot: number) =>
    new TopologyProcess({ ...config, 'pcap.instance.id': `s${slot}-r${starts++}` }, `${logDir}/s${slot}.log`);
  const procs = [0, 1, 2].map(launch);
  const unexpectedExits: string[] = [];
  const watch = (slot: number) =>
    void procs[slot].exited.then((code) => {
      if (code !== null && !stopping) unexpectedExits.push(`s${slot} exited ${code}`);
    });
  let stopping = false;
  for (let slot = 0; slot < 3; slot++) watch(slot);

  // The replay: `rate` packets a second, round robin over the partitions, in 100 ms slices.
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const next = new Array<number>(partitions).fill(0);
  const t0 = Date.now();
  const until = t0 + minutes * 60_000;
  let kills = 0;
  let nextKill = t0 + 20_000 + random() * 40_000;
  let sent = 0;
  let behind = 0;
  while (Date.now() < until) {
    const slice = Math.round(rate / 10);
    const messages = [];
    for (let k = 0; k < slice; k++) {
      const p = (sent + k) % partitions;
      const i = next[p]++;
      messages.push({
        partition: p,
        key: tsKey(1_700_000_000_000_000n + BigInt(i) * 1000n),
        value: udpFrame(idFor(p, i), 40000 + p, 53, 100),
      });
    }
    await producer.send({ topic, acks: -1, messages });
    sent += slice;
    if (Date.now() >= nextKill) {
      const slot = Math.floor(random() * 3);
      procs[slot].kill('SIGKILL');
      await procs[slot].exited;
      procs[slot] = launch(slot);
      watch(slot);
      kills++;
      console.log(
        `${Math.round((Date.now() - t0) / 1000)} s: killed s${slot} (kill ${kills}), restarted; ${sent} packets sent`,
      );
      nextKill = Date.now() + 20_000 + random() * 40_000;
    }
    const due = t0 + (sent / rate) * 1000;
    if (due > Date.now()) await sleep(due - Date.now());
    else behind = Math.max(behind, Date.now() - due);
  }
  await producer.disconnect();
  const replayMs = Date.now() - t0;
  console.log(`replay done: ${sent} packets in ${Math.round(replayMs / 1000)} s, ${kills} kills; draining`);
  const drainStart = Date.now();
  await waitForDrain(endpoints.kafkaBrokers, group, topic, 900_000);
  const drainMs = Date.now() - drainStart;
  stopping = true;
  for (const p of procs) p.kill('SIGTERM');
  const codes = await Promise.all(procs.map((p) => p.exited));

  // Exactly once, from the data files themselves.
  const { root, path } = parseStorageUri(out);
  const storage = openStorage(root);
  const seen = new Set<string>();
  let duplicates = 0;
  let files = 0;
  const walk = async (dir: string): Promise<void> => {
    for await (const e of storage.list(dir)) {
      if (e.name.startsWith('_') || e.name.startsWith('.')) continue;
      if (e.type === 'directory') {
        await walk(e.path);
        continue;
      }
      files++;
      for await (const r of readSequenceFile(await storage.read(e.path))) {
        const id = Buffer.from(r.value.subarray(40 + 42, 40 + 58)).toString('latin1');
        if (seen.has(id)) duplicates++;
        else seen.add(id);
      }
    }
  };
  await walk(path);
  await storage.close();
  let missing = 0;
  for (let p = 0; p < partitions; p++) for (let i = 0; i < next[p]; i++) if (!seen.has(idFor(p, i))) missing++;
  const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  const ends = await admin.fetchTopicOffsets(topic);
  let lag = 0n;
  for (const e of ends)
    lag += BigInt(e.high) - BigInt(committed.partitions.find((c) => c.partition === e.partition)!.offset);
  await admin.disconnect();
  const ok = duplicates === 0 && missing === 0 && lag === 0n && seen.size === sent;
  console.log(
    JSON.stringify(
      {
        run,
        minutes: replayMs / 60000,
        rate,
        partitions,
        packetsSent: sent,
        packetsStored: seen.size,
        duplicates,
        missing,
        files,
        kills,
        processStarts: starts,
        maxReplayBehindMs: behind,
        drainMs,
        lag: String(lag),
        stopExitCodes: codes,
        unexpectedExits,
        logs: logDir,
        ok,
      },
      null,
      2,
    ),
  );
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

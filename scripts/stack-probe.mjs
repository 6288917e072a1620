// Readiness probe for the local stack: a real Kafka produce + consume and a real WebHDFS CREATE + OPEN.
// Plain JS (no build step) so `stack.sh up` works before `npm run build`. Exits non-zero on any failure.
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import kafkajs from 'kafkajs';

const env = Object.fromEntries(
  readFileSync(process.argv[2], 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const i = l.indexOf('=');
      return [l.slice(0, i), l.slice(i + 1)];
    }),
);
const nn = `http://${new URL(env.WEBHDFS_URL).host}/webhdfs/v1`;
const deadline = (ms) => AbortSignal.timeout(ms);

async function probeHdfs() {
  const path = `/tmp/.stack-probe-${randomBytes(4).toString('hex')}`;
  const body = Buffer.from('pcapline probe');
  const r1 = await fetch(`${nn}${path}?op=CREATE&overwrite=false&user.name=pcapline`, {
    method: 'PUT',
    redirect: 'manual',
    signal: deadline(20000),
  });
  const location = r1.headers.get('location') ?? '';
  if (r1.status !== 307) throw new Error(`WebHDFS CREATE: expected 307, got ${r1.status} ${await r1.text()}`);
  if (!location.startsWith('http://127.0.0.1:9864/'))
    throw new Error(`WebHDFS redirect is not on 127.0.0.1:9864: ${location}`);
  // The DataNode answers every write with an unsolicited `100 Continue` before the final status, which
  // fetch (undici) rejects as a bad response; node:http handles the informational response.
  const status = await new Promise((resolve, reject) => {
    const req = request(
      location,
      { method: 'PUT', timeout: 20000, headers: { 'content-length': body.length } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      },
    );
    req.on('error', reject).on('timeout', () => req.destroy(new Error('DataNode PUT timed out')));
    req.end(body);
  });
  if (status !== 201) throw new Error(`WebHDFS CREATE on the DataNode answered ${status}`);
  const r3 = await fetch(`${nn}${path}?op=OPEN&user.name=pcapline`, { signal: deadline(20000) });
  const got = Buffer.from(await r3.arrayBuffer());
  if (r3.status !== 200 || !got.equals(body)) throw new Error(`WebHDFS OPEN returned ${r3.status} '${got}'`);
  await fetch(`${nn}${path}?op=DELETE&user.name=pcapline`, { method: 'DELETE', signal: deadline(20000) });
  const info = await (
    await fetch(`${nn.replace('/webhdfs/v1', '')}/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo`)
  ).json();
  console.log(
    `hdfs ok: CREATE redirected to ${location.split('?')[0]}, OPEN read back ${got.length} bytes; NameNode ${info.beans?.[0]?.SoftwareVersion}`,
  );
}

async function probeKafka() {
  const kafka = new kafkajs.Kafka({
    clientId: 'stack-probe',
    brokers: [env.KAFKA_BROKERS],
    logLevel: kafkajs.logLevel.NOTHING,
  });
  const topic = '__stack_probe';
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true }).catch(() => {});
  await admin.disconnect();
  const value = randomBytes(8).toString('hex');
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  await producer.send({ topic, messages: [{ key: 'probe', value }] });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: `stack-probe-${value}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('Kafka consume timed out after 60 s')), 60000);
    consumer
      .run({
        eachMessage: async ({ message }) => {
          if (message.value?.toString() === value) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  console.log(`kafka ok: produced and consumed a record on ${env.KAFKA_BROKERS}`);
}

try {
  await Promise.all([probeHdfs(), probeKafka()]);
  process.exit(0);
} catch (err) {
  console.error(`probe failed: ${err.message}${err.cause ? ` (${err.cause.message ?? err.cause})` : ''}`);
  process.exit(1);
}

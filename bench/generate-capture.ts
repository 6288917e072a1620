/**
 * Writes a deterministic synthetic capture (little-endian µs pcap):
 *   node --import tsx bench/generate-capture.ts --packets N --seed S --out file.pcap [--rate PPS] [--flows F] [--start ISO-8601]
 * Prints a one-line summary and the first flows (so a selective query can target one).
 */
import { parseArgs } from 'node:util';
import { writeSyntheticPcap } from '../test/support/synthetic.js';

function fail(msg: string): never {
  process.stderr.write(`generate-capture: ${msg}\n`);
  process.exit(2);
}

let values: Record<string, string | undefined>;
try {
  ({ values } = parseArgs({
    options: {
      packets: { type: 'string' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string' },
      rate: { type: 'string', default: '10000' },
      flows: { type: 'string', default: '64' },
      start: { type: 'string', default: '2024-01-01T00:00:00Z' },
    },
    strict: true,
  }));
} catch (err) {
  fail((err as Error).message);
}
const int = (name: string, v: string | undefined): number => {
  if (v === undefined || !/^\d+$/.test(v)) fail(`--${name} needs a non-negative integer`);
  return Number(v);
};
const packets = int('packets', values.packets);
const seed = int('seed', values.seed);
const flows = int('flows', values.flows);
const rate = Number(values.rate);
if (!(rate > 0)) fail('--rate needs a positive number of packets per second');
if (!values.out) fail('--out <file.pcap> is required');
const startMs = Date.parse(values.start ?? '');
if (Number.isNaN(startMs)) fail(`--start '${values.start}' is not an ISO-8601 time`);

const t0 = process.hrtime.bigint();
const r = await writeSyntheticPcap(values.out, packets, { seed, flows, rate, startNs: BigInt(startMs) * 1_000_000n });
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
process.stdout.write(
  `wrote ${r.packets} packets, ${r.bytes} bytes to ${values.out} in ${secs.toFixed(2)} s; ` +
    `time ${new Date(Number(r.firstTsNs / 1_000_000n)).toISOString()} .. ${new Date(Number(r.lastTsNs / 1_000_000n)).toISOString()}\n`,
);
for (const f of r.flows.slice(0, 5)) {
  process.stdout.write(
    `  flow ${f.id}: proto ${f.protocol} ${f.srcAddr}:${f.srcPort} -> ${f.dstAddr}:${f.dstPort}${f.vlan >= 0 ? ` vlan ${f.vlan}` : ''}\n`,
  );
}

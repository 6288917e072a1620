import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { main } from '../../src/cli/inspector.js';
import { buildFrame } from '../support/frame-builder.js';
import { formatMetronDate } from '../../src/packet/metron-line.js';
import { encodePcapFile } from '../../src/formats/pcap/pcap-file.js';
import { SequenceFileWriter } from '../../src/formats/sequencefile/index.js';
import { SAMPLE_PATH } from '../helpers/fixtures.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SAMPLE = SAMPLE_PATH;
const LINE0 =
  'TS: March 17, 2016 6:44:29 PM UTC,ip_src_addr: 192.168.66.121,ip_src_port: 22,ip_dst_addr: 192.168.66.1,ip_dst_port: 55791,protocol: 6';
const LINE1 =
  'TS: March 17, 2016 6:44:29 PM UTC,ip_src_addr: 192.168.66.1,ip_src_port: 55791,ip_dst_addr: 192.168.66.121,ip_dst_port: 22,protocol: 6';

const dir = mkdtempSync(join(tmpdir(), 'pcapline-inspector-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the TS entry point as a real process (what a user runs, minus the build). */
function spawnInspector(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/inspector.ts'), ...args], {
    encoding: 'utf8',
    cwd: root,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs main() in-process with captured output. */
async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = new Writable({
    write(c, _e, cb) {
      out += c.toString();
      cb();
    },
  });
  const e = new Writable({
    write(c, _e, cb) {
      err += c.toString();
      cb();
    },
  });
  const code = await main(args, o, e);
  return { code, out, err };
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l.length > 0);

describe('pcap-inspector on the Metron sample', () => {
  it('-n 2 prints exactly the two lines of metron-compat §9 (spawned)', () => {
    const r = spawnInspector(['-i', SAMPLE, '-n', '2']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${LINE0}\n${LINE1}\n`);
    assert.equal(r.stderr, '');
  });

  it('without -n prints 20 lines (spawned)', () => {
    const r = spawnInspector(['-i', SAMPLE]);
    assert.equal(r.status, 0, r.stderr);
    const ls = lines(r.stdout);
    assert.equal(ls.length, 20);
    assert.equal(ls[0], LINE0);
    assert.equal(ls[1], LINE1);
    assert.ok(ls.every((l) => l === LINE0 || l === LINE1));
  });

  it('the built bin does the same (when dist/ exists)', (t) => {
    if (!existsSync(join(root, 'dist/cli/inspector.js'))) return t.skip('dist/ not built (npm run build)');
    const r = spawnSync(join(root, 'bin/pcap-inspector'), ['-i', SAMPLE, '-n', '2'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${LINE0}\n${LINE1}\n`);
  });

  it('--long option names and -n counting', async () => {
    const r = await run(['--input', SAMPLE, '--num_packets', '5']);
    assert.equal(r.code, 0);
    assert.equal(lines(r.out).length, 5);
    assert.equal((await run(['-i', SAMPLE, '-n', '0'])).out, '');
    assert.equal(lines((await run(['-i', `file://${SAMPLE}`, '-n', '3'])).out).length, 3);
  });

  it('--json prints every decoded field, time as a string', async () => {
    const r = await run(['-i', SAMPLE, '-n', '1', '--json']);
    assert.equal(r.code, 0);
    const o = JSON.parse(lines(r.out)[0]);
    assert.equal(o.tsNs, '1458240269373968000');
    assert.equal(o.srcAddr, '192.168.66.121');
    assert.equal(o.srcPort, 22);
    assert.equal(o.dstPort, 55791);
    assert.equal(o.protocol, 6);
    assert.equal(o.length, 722);
    assert.equal(o.position, 94);
    assert.equal(o.record, 1);
    for (const k of ['vlan', 'ipVersion', 'linkType', 'error', 'frameOffset', 'l3Offset', 'tcpFlags'])
      assert.ok(k in o, k);
  });
});

describe('pcap-inspector on our files', () => {
  const ts0 = 1_700_000_000_000_000_000n;
  const frames = [
    buildFrame({
      ip: { version: 4, src: Uint8Array.from([10, 0, 0, 1]), dst: Uint8Array.from([10, 0, 0, 2]) },
      l4: { proto: 'icmp', type: 8, code: 0 },
    }),
    buildFrame({
      vlans: [{ tpid: 0x8100, vid: 7 }],
      ip: {
        version: 6,
        src: Buffer.from('20010db8000000000000000000000001', 'hex'),
        dst: Buffer.from('20010db8000000000000000000000002', 'hex'),
      },
      l4: { proto: 'udp', srcPort: 5000, dstPort: 53 },
    }),
    (() => {
      const arp = Buffer.alloc(42);
      arp.writeUInt16BE(0x0806, 12);
      return arp;
    })(),
  ];
  const expected = [
    'TS: November 14, 2023 10:13:20 PM UTC,ip_src_addr: 10.0.0.1,ip_dst_addr: 10.0.0.2,protocol: 1',
    'TS: November 14, 2023 10:13:21 PM UTC,ip_src_addr: 2001:db8::1,ip_src_port: 5000,ip_dst_addr: 2001:db8::2,ip_dst_port: 53,protocol: 17',
    'TS: November 14, 2023 10:13:22 PM UTC',
  ];

  it('reads a LongWritable SequenceFile we wrote (ICMP with addresses, IPv6 text, non-IP)', async () => {
    const chunks: Buffer[] = [];
    const w = new SequenceFileWriter({ write: (c) => void chunks.push(c) });
    for (const [i, f] of frames.entries()) w.appendFrame(ts0 + BigInt(i) * 1_000_000_000n, f);
    const file = join(dir, 'ours.seq');
    writeFileSync(file, Buffer.concat(chunks));
    const r = await run(['-i', file]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(lines(r.out), expected);
    // A file still being written: complete records, then a note on stderr, exit 0.
    const torn = join(dir, 'torn.seq');
    writeFileSync(torn, Buffer.concat(chunks).subarray(0, w.position - 5));
    const t = await run(['-i', torn]);
    assert.equal(t.code, 0);
    assert.deepEqual(lines(t.out), expected.slice(0, 2));
    assert.match(t.err, /^pcap-inspector: note: the file ends inside a record/);
    assert.equal(lines(t.err).length, 1);
  });

  it('reads a plain pcap file', async () => {
    const file = join(dir, 'plain.pcap');
    writeFileSync(file, encodePcapFile(frames.map((data, i) => ({ tsNs: ts0 + BigInt(i) * 1_000_000_000n, data }))));
    const r = await run(['-i', file]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(lines(r.out), expected);
  });

  it("prints Metron's error line for a record that is not a pcap", async () => {
    const chunks: Buffer[] = [];
    const w = new SequenceFileWriter({ write: (c) => void chunks.push(c) });
    w.appendValue(ts0, Buffer.from('definitely not a pcap value, just text'));
    const file = join(dir, 'garbage-value.seq');
    writeFileSync(file, Buffer.concat(chunks));
    const r = await run(['-i', file]);
    assert.equal(r.code, 0);
    assert.equal(
      r.out,
      'Error: malformed packet #=1, ts=November 14, 2023 10:13:20 PM UTC, error msg=bad pcap magic\n',
    );
  });
});

describe('pcap-inspector errors: exit 2, one line on stderr, no stack trace', () => {
  const garbage = join(dir, 'garbage.bin');
  writeFileSync(garbage, 'hello, this is not a packet file');
  const ng = join(dir, 'capture.pcapng');
  writeFileSync(ng, Buffer.from('0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000', 'hex'));
  const corrupt = join(dir, 'corrupt.seq');
  {
    const chunks: Buffer[] = [];
    const w = new SequenceFileWriter({ write: (c) => void chunks.push(c) });
    for (let i = 0; i < 50; i++) w.appendFrame(BigInt(i + 1) * 1_000_000_000n, Buffer.alloc(100));
    const b = Buffer.concat(chunks);
    b[b.indexOf(Buffer.from([0xff, 0xff, 0xff, 0xff]), 95) + 6] ^= 1;
    writeFileSync(corrupt, b);
  }
  const cases: Array<[string, string[], RegExp]> = [
    ['no arguments', [], /missing -i/],
    ['unknown option', ['-i', SAMPLE, '--frobnicate'], /Unknown argument/],
    ['bad -n', ['-i', SAMPLE, '-n', 'ten'], /-n must be a non-negative integer/],
    ['missing file', ['-i', join(dir, 'nope')], /no such file/],
    ['a directory', ['-i', dir], /is a directory/],
    ['not a packet file', ['-i', garbage], /neither a SequenceFile nor a pcap file/],
    ['pcapng', ['-i', ng], /pcapng/],
    ['corrupt SequenceFile', ['-i', corrupt], /sync marker/],
  ];
  for (const [name, args, re] of cases) {
    it(name, async () => {
      const r = await run(args);
      assert.equal(r.code, 2);
      assert.equal(lines(r.err).length, 1, r.err);
      assert.match(r.err, re);
      assert.match(r.err, /^pcap-inspector: /);
      assert.doesNotMatch(r.err, /\n\s+at /);
    });
  }

  it('spawned: status 2 and a single stderr line', () => {
    const r = spawnInspector(['-i', join(dir, 'nope')]);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `pcap-inspector: no such file: local:${join(dir, 'nope')}\n`);
  });

  it('--help prints usage and exits 0', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.out, /^usage: pcap-inspector -i <file>/);
  });
});

describe('Metron TS format (en-US long, UTC)', () => {
  const at = (iso: string): bigint => BigInt(Date.parse(iso)) * 1_000_000n + 123_456n;
  const cases: Array<[string, string]> = [
    ['2016-03-17T18:44:29.373Z', 'March 17, 2016 6:44:29 PM UTC'],
    ['2019-10-09T20:43:39Z', 'October 9, 2019 8:43:39 PM UTC'],
    ['2024-01-01T00:00:00Z', 'January 1, 2024 12:00:00 AM UTC'],
    ['2024-07-04T12:05:09.999Z', 'July 4, 2024 12:05:09 PM UTC'],
    ['2024-12-31T11:59:59Z', 'December 31, 2024 11:59:59 AM UTC'],
    ['1970-01-01T00:00:01Z', 'January 1, 1970 12:00:01 AM UTC'],
  ];
  for (const [iso, text] of cases) it(`${iso} → ${text}`, () => assert.equal(formatMetronDate(at(iso)), text));
});

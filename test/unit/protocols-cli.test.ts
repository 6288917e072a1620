/**
 * pcap-analyze's command line: a capture in, NDJSON out (file or stdin), protocol selection and
 * ports, and bad input ending in one line on stderr with exit status 2.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { protocolSettings } from '../../src/cli/pcap-analyze.js';
import { PROTOCOL_FIXTURES } from '../helpers/protocols.js';

const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli', 'pcap-analyze.ts');

function run(args: string[], input?: Buffer) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], {
    input,
    encoding: 'buffer',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

describe('pcap-analyze CLI', () => {
  it('reads stdin with -i - and writes one event per line, the summary on stderr', () => {
    const r = run(['-i', '-', '--protocols', 'dns'], readFileSync(join(PROTOCOL_FIXTURES, 'dns.pcap')));
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 9);
    assert.ok(lines.every((l) => JSON.parse(l).type === 'dns'));
    assert.match(r.stderr, /26 packets, 9 events/);
  });

  it('without content dispatch, DNS on 5353 goes unseen (as in Packetbeat)', () => {
    const r = run(['-i', join(PROTOCOL_FIXTURES, 'dns.pcap'), '--no-content-dispatch']);
    assert.equal(r.stdout.trim().split('\n').length, 8);
  });

  for (const [args, message] of [
    [['-i', '/nonexistent.pcap'], /no such file/],
    [['-i', join(PROTOCOL_FIXTURES, '..', '..', '..', 'package.json')], /not a pcap file/],
    [['-i', 'x.pcap', '--protocols', 'gopher'], /unknown protocol 'gopher'/],
    [['-i', 'x.pcap', '--ports', 'http=0'], /ports must be 1-65535/],
    [['--topic', 'pcap'], /--topic needs --events-topic/],
    [[], /either -i <capture> or --topic/],
  ] as const) {
    it(`exits 2 with one line: ${args.join(' ') || '(no arguments)'}`, () => {
      const r = run([...args]);
      assert.equal(r.status, 2);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    });
  }

  it('protocol settings: selection, ports, timeout', () => {
    const s = protocolSettings('dns,tls', ['tls=443,8443'], 5000);
    assert.equal(s.http.enabled, false);
    assert.equal(s.dns.enabled, true);
    assert.deepEqual(s.tls.ports, [443, 8443]);
    assert.equal(s.dns.transactionTimeoutMs, 5000);
  });
});

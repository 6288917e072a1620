/**
 * PDML in Metron's JSON shape: tshark's XML mapped by the SAX builder (attributes → strings, absent →
 * null, nested fields and protos), and our decoder's PDML for the same packets agreeing with tshark
 * on the fields the page shows.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { encodePcapFile } from '../../src/formats/pcap/pcap-file.js';
import { builtinPdml, tsharkTime } from '../../src/server/pdml/builtin.js';
import { PdmlBuilder, tsharkPdml } from '../../src/server/pdml/tshark.js';
import type { Pdml } from '../../src/server/pdml/types.js';
import { udpFrame } from '../helpers/ingest.js';

const work = mkdtempSync(join(tmpdir(), 'pcapline-pdml-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('the builder maps PDML XML to Metron objects, attribute for attribute', () => {
  const b = new PdmlBuilder();
  b.write(`<?xml version="1.0" encoding="utf-8"?>
<pdml version="0" creator="wireshark/4.0.17" time="Mon Sep 24" capture_file="x.pcap">
<packet>
  <proto name="geninfo" pos="0" showname="General information" size="60">
    <field name="num" pos="0" show="1" showname="Number" value="1" size="60"/>
  </proto>
  <proto name="ip" showname="Internet Protocol, Src: 10.1.0.1 &amp; more" size="20" pos="14">
    <field name="ip.flags" showname="Flags: 0x40" size="1" pos="20" show="0x40" value="40">
      <field name="ip.flags.df" showname=".1.. = Don't fragment" size="1" pos="20" show="1" value="1" unmaskedvalue="40"/>
    </field>
    <field name="" show="Options" size="4" pos="34" value="0000"><proto name="opt" pos="34" size="4"/></field>
  </proto>
</packet>
<packet><proto name="geninfo" pos="0" size="1"/></packet>
</pdml>`);
  const pdml = b.finish();
  assert.equal(pdml.creator, 'wireshark/4.0.17');
  assert.equal(pdml.captureFile, 'x.pcap');
  assert.equal(pdml.packets.length, 2);
  const [geninfo, ip] = pdml.packets[0].protos;
  assert.deepEqual(geninfo.fields![0], {
    name: 'num',
    pos: '0',
    showname: 'Number',
    size: '60',
    value: '1',
    show: '1',
    unmaskedvalue: null,
    hide: null,
    fields: null,
    protos: null,
  });
  assert.equal(ip.showname, 'Internet Protocol, Src: 10.1.0.1 & more');
  assert.equal(ip.hide, null);
  assert.equal(ip.fields![0].fields![0].unmaskedvalue, '40');
  assert.equal(ip.fields![1].protos![0].name, 'opt');
  assert.equal(pdml.packets[1].protos[0].fields, null);
});

test('malformed XML is an error, not a partial answer', () => {
  const b = new PdmlBuilder();
  assert.throws(() => {
    b.write('<pdml><packet><proto name="x"></packet>');
    b.finish();
  });
});

const fieldShow = (pdml: Pdml, packet: number, name: string): string | null => {
  const walk = (fields: Pdml['packets'][0]['protos'][0]['fields']): string | null => {
    for (const f of fields ?? []) {
      if (f.name === name) return f.show;
      const inner = walk(f.fields);
      if (inner !== null) return inner;
    }
    return null;
  };
  for (const p of pdml.packets[packet].protos) {
    const v = walk(p.fields);
    if (v !== null) return v;
  }
  return null;
};

test("our decoder's PDML agrees with tshark's on the fields the page shows", async (t) => {
  const file = join(work, 'udp.pcap');
  const t0 = 1_700_000_000_123_456_000n;
  writeFileSync(
    file,
    encodePcapFile([
      { tsNs: t0, data: udpFrame('first', 40000, 40001) },
      { tsNs: t0 + 1000n, data: udpFrame('second', 40002, 40003, 120) },
    ]),
  );
  const ours = await builtinPdml(file, 10);
  assert.equal(ours.packets.length, 2);
  assert.equal(tsharkTime(t0), 'Nov 14, 2023 22:13:20.123456000 UTC');
  if (spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status !== 0) {
    t.skip('tshark is not installed (scripts/test-tools.sh installs it)');
    return;
  }
  const theirs = await tsharkPdml(file, { tshark: 'tshark', maxPackets: 10, timeoutMs: 60_000 });
  assert.equal(theirs.packets.length, 2);
  for (const k of [0, 1])
    for (const name of [
      'num',
      'len',
      'caplen',
      'timestamp',
      'ip.src',
      'ip.dst',
      'ip.proto',
      'udp.srcport',
      'udp.dstport',
      'eth.src',
    ])
      assert.equal(fieldShow(ours, k, name), fieldShow(theirs, k, name), `packet ${k}, ${name}`);
  const names = (p: Pdml) =>
    p.packets[0].protos.map((x) => x.name).filter((n) => n !== 'data' && n !== 'fake-field-wrapper');
  assert.deepEqual(names(ours), names(theirs));
  const oursLimited = await builtinPdml(file, 1);
  assert.equal(oursLimited.packets.length, 1, 'maxPackets caps the packets rendered');
});

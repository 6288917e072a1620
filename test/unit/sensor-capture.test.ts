import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stdinDash } from '../../src/cli/dash-arg.js';
import { captureCommand, parseCaptureStats } from '../../src/sensor/capture.js';
import { formatStatus } from '../../src/sensor/status-line.js';

describe('live capture command lines', () => {
  it('tcpdump: pcap to stdout, packet-buffered, no name lookups, the filter as one argument after --', () => {
    const { command, args } = captureCommand(
      { interface: 'eth0', filter: 'tcp port 443 and host 10.0.0.5', snaplen: 1600, maxPackets: 10, nanos: true },
      'tcpdump',
    );
    assert.equal(command, 'tcpdump');
    assert.deepEqual(args, [
      '-i',
      'eth0',
      '-w',
      '-',
      '-U',
      '-n',
      '-s',
      '1600',
      '-c',
      '10',
      '--time-stamp-precision=nano',
      '--',
      'tcp port 443 and host 10.0.0.5',
    ]);
  });

  it('tcpdump options: immediate mode, buffer size, no promiscuous mode; default snaplen 262144', () => {
    const { args } = captureCommand(
      { interface: 'lo', immediate: true, bufferKiB: 8192, noPromiscuous: true },
      'tcpdump',
    );
    assert.deepEqual(args, ['-i', 'lo', '-w', '-', '-U', '-n', '-s', '262144', '--immediate-mode', '-B', '8192', '-p']);
  });

  it('dumpcap: classic pcap (not pcapng), the filter with -f, the buffer in MiB', () => {
    const { command, args } = captureCommand(
      { interface: 'eth0', filter: 'udp', maxPackets: 5, bufferKiB: 4096 },
      'dumpcap',
    );
    assert.equal(command, 'dumpcap');
    assert.deepEqual(args, ['-i', 'eth0', '-w', '-', '-P', '-q', '-s', '262144', '-c', '5', '-B', '4', '-f', 'udp']);
  });

  it('reads the counters tcpdump and dumpcap print when they stop', () => {
    assert.deepEqual(
      parseCaptureStats([
        'tcpdump: listening on lo, link-type EN10MB (Ethernet), snapshot length 262144 bytes',
        '42 packets captured',
        '84 packets received by filter',
        '3 packets dropped by kernel',
      ]),
      { captured: 42, receivedByFilter: 84, droppedByKernel: 3 },
    );
    assert.deepEqual(
      parseCaptureStats([
        "Capturing on 'Loopback: lo'",
        "Packets received/dropped on interface 'Loopback: lo': 12/1 (pcap:1/dumpcap:0/flushed:0/ps_ifdrop:0) (92.3%)",
        'Packets captured: 12',
      ]),
      { captured: 12, receivedByFilter: 12, droppedByKernel: 1 },
    );
    assert.deepEqual(parseCaptureStats(['tcpdump: eth9: No such device exists']), {
      captured: null,
      receivedByFilter: null,
      droppedByKernel: null,
    });
  });
});

describe('CLI helpers', () => {
  it('status line: counters with per-second rates since the previous line', () => {
    const line = formatStatus(
      'pcap-replay',
      [
        { label: 'packets in', value: 1500, rate: true },
        { label: 'out', value: 1400, rate: true },
        { label: 'pending', value: 100 },
      ],
      new Map([
        ['packets in', 500],
        ['out', 400],
      ]),
      2000,
    );
    assert.equal(line, 'pcap-replay: packets in 1500 (500/s), out 1400 (500/s), pending 100');
  });

  it("'-i -' reaches yargs as '-i=-' (a lone '-' would be taken for a positional)", () => {
    assert.deepEqual(stdinDash(['-i', '-', '-t', 'x'], ['-i', '--input']), ['-i=-', '-t', 'x']);
    assert.deepEqual(stdinDash(['--input', '-'], ['-i', '--input']), ['--input=-']);
    assert.deepEqual(stdinDash(['-i', 'a.pcap', '-'], ['-i']), ['-i', 'a.pcap', '-']);
  });
});

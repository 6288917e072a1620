/**
 * The ingest benchmark's bound on HDFS small files (bench/ingest.ts, hdfsSmallFileCeiling): the
 * NameNode and DataNode CPU a file costs, and the best small/large rate the cores leave.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEFAULT_INGEST,
  hdfsSmallFileCeiling,
  type IngestFigures,
  type RunFigures,
  type TargetFigures,
} from '../../bench/ingest.js';

type Median = TargetFigures['median'];

const median = (over: Partial<Median>): Median => ({
  wallS: 10,
  startupS: 1,
  packetsPerS: 100_000,
  mbPerS: 67,
  peakRssMb: 250,
  cpuS: 13,
  hostBusyPct: 90,
  loadAvg1m: 3,
  kafkaCpuS: 1.5,
  hdfsCpuS: 3,
  ...over,
});

const row = (target: TargetFigures['target'], filePackets: number | null, m: Partial<Median>): TargetFigures => ({
  target,
  filePackets,
  runs: [] as RunFigures[],
  median: median(m),
  vsKcat: null,
  vsKafkajs: null,
});

const figures = (targets: TargetFigures[], cores = 2): IngestFigures => {
  const { log: _log, ...options } = { ...DEFAULT_INGEST, filePackets: [100_000, 1000] };
  return {
    options,
    topic: 't',
    capture: { packets: 1_000_000, frameBytes: 674e6, meanFrameBytes: 674, loadS: 1 },
    targets,
    disturbedRuns: 0,
    cores,
  };
};

test('the bound spreads the large run with the small run’s HDFS CPU over every core', () => {
  // 1,000,000 packets over 4 partitions: 4 × ceil(250,000 / 100,000) = 12 files, and 1,000 files of 1,000.
  const f = figures([
    row('hdfs', 100_000, { wallS: 10, cpuS: 13, kafkaCpuS: 1.5, hdfsCpuS: 3 }),
    row('hdfs', 1000, { hdfsCpuS: 25.5 }),
  ]);
  const line = hdfsSmallFileCeiling(f, 100_000, 1000);
  // (25.5 - 3) s over 988 more files = 22.8 ms a file; (13 + 1.5 + 25.5) / 2 = 20 s at best: 10 / 20 = 0.50.
  assert.equal(
    line,
    'HDFS numPackets=1000: NameNode + DataNode CPU 25.5 s (3.0 s at 100000), 22.8 ms a file; on 2 cores shared with them numPackets=1000 reaches at most 0.50x numPackets=100000, even if the topology itself spent no more than there',
  );
  const wider = hdfsSmallFileCeiling(figures(f.targets, 4), 100_000, 1000);
  assert.match(wider ?? '', /on 4 cores .* at most 1\.00x/, 'never above 1: more cores than work');
});

test('no bound without the stack’s CPU figures (a cluster that is not ours to watch) or without both rows', () => {
  const unwatched = figures([
    row('hdfs', 100_000, { hdfsCpuS: null, kafkaCpuS: null }),
    row('hdfs', 1000, { hdfsCpuS: null }),
  ]);
  assert.equal(hdfsSmallFileCeiling(unwatched, 100_000, 1000), null);
  const oneRow = figures([row('hdfs', 100_000, {}), row('local', 1000, {})]);
  assert.equal(hdfsSmallFileCeiling(oneRow, 100_000, 1000), null);
});

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { committedOffsets, kafkaClient, readStore, type StoredFile } from './ingest.js';

const cli = fileURLToPath(new URL('../../src/cli/start-pcap-topology.ts', import.meta.url));

/** A start-pcap-topology process (the real CLI), its stderr logged to a file for post-mortems. */
export class TopologyProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  /** Files this process reported sealed (from its structured log). */
  sealed = 0;

  constructor(overrides: Record<string, string>, logFile: string) {
    mkdirSync(logFile.slice(0, logFile.lastIndexOf('/')), { recursive: true });
    const args = ['--import', 'tsx', cli, ...Object.entries(overrides).flatMap(([k, v]) => ['-D', `${k}=${v}`])];
    this.child = spawn(process.execPath, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'info' },
    });
    this.child.stderr!.pipe(createWriteStream(logFile, { flags: 'a' }));
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.sealed += chunk.toString('utf8').split('"msg":"sealed"').length - 1;
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
}

/** Waits until the group has committed every partition up to its end offset. */
export async function waitForDrain(brokers: string, groupId: string, topic: string, timeoutMs: number): Promise<void> {
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ends = await admin.fetchTopicOffsets(topic);
      const committed = await committedOffsets(brokers, groupId, topic);
      if (ends.every((e) => committed.get(e.partition) === BigInt(e.high))) return;
      if (Date.now() > deadline) {
        throw new Error(
          `not drained after ${timeoutMs} ms: ends ${JSON.stringify(ends.map((e) => e.high))}, committed ${JSON.stringify([...committed].map(([p, o]) => `${p}:${o}`))}`,
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await admin.disconnect();
  }
}

/**
 * Reads every finished data file back and checks exactly-once: each produced record id appears in
 * exactly one stored packet, and each partition's files cover its offsets [0, end) without overlap
 * (from the indexes). The ids are read from the packets themselves, not from the indexes.
 */
export async function assertExactlyOnce(
  out: string,
  expectedIds: Set<string>,
  idOf: (value: Buffer) => string,
  ends: Map<number, bigint>,
): Promise<StoredFile[]> {
  const files = await readStore(out);
  const seen = new Map<string, string>();
  for (const f of files) {
    for (const r of f.records) {
      const id = idOf(r.value);
      const previous = seen.get(id);
      assert.ok(previous === undefined, `record ${id} stored twice: in ${previous} and ${f.name}`);
      seen.set(id, f.name);
    }
  }
  const missing = [...expectedIds].filter((id) => !seen.has(id));
  assert.equal(
    missing.length,
    0,
    `records missing from storage: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ' ...' : ''}`,
  );
  assert.equal(seen.size, expectedIds.size, 'no unexpected records');
  for (const [partition, end] of ends) {
    const ranges = files
      .filter((f) => f.partition === partition)
      .map((f) => {
        assert.ok(f.index, `${f.name} has an index`);
        assert.equal(f.index!.summary.count, f.records.length, `${f.name}: index count = records in the data file`);
        return [BigInt(f.index!.summary.firstOffset), BigInt(f.index!.summary.lastOffset)] as const;
      })
      .sort((a, b) => (a[0] < b[0] ? -1 : 1));
    let next = 0n;
    for (const [first, last] of ranges) {
      assert.equal(first, next, `partition ${partition}: files tile the offsets (expected a file starting at ${next})`);
      next = last + 1n;
    }
    assert.equal(next, end, `partition ${partition}: files cover offsets up to ${end}`);
  }
  return files;
}

/**
 * The fault-model harness: Kafka as a script, everything else real. A `ScriptedCluster` is one
 * topic (in-memory partition logs) and one consumer group (committed offsets, a generation that
 * fences stale commits, as the broker does). A `ScriptedMember` is one process's consumer behind
 * the same `PartitionConsumer` interface as `KafkaSpout`, with kafkajs's fetch-position rules: a
 * (re)join puts every assigned partition, kept ones included, back at the committed offset.
 * `HarnessProcess` drives real `PartitionOwner`s (real PartitionSink, Ledger, LocalStorage in a
 * temp dir) with it, and can "crash" at a named point of the seal protocol.
 */
import { LocalStorage } from '../../src/storage/local.js';
import { StorageError } from '../../src/storage/errors.js';
import type { CreateOptions, FileWriter, Storage, WriteBody } from '../../src/storage/types.js';
import type { PartitionConsumer, PartitionOffsets, SpoutBatch, SpoutMessage } from '../../src/spout/types.js';
import type { StartMode } from '../../src/config/topology-config.js';
import { SinkLayout, type OutputLayout } from '../../src/sink/layout.js';
import { Ledger } from '../../src/sink/ledger.js';
import { PartitionOwner, type PartitionState } from '../../src/sink/partition-owner.js';
import { RecordEncoder } from '../../src/sink/record-encoder.js';
import type { DeadLetterQueue } from '../../src/sink/dead-letters.js';
import { tsKey, udpFrame } from './ingest.js';

export class StaleGenerationError extends Error {}

export class ScriptedCluster {
  readonly logs: SpoutMessage[][];
  readonly committed = new Map<number, bigint>();
  /** Every accepted commit, in order: [partition, offset]. */
  readonly commits: Array<[number, bigint]> = [];
  generation = 0;

  constructor(
    readonly topic: string,
    partitions: number,
  ) {
    this.logs = Array.from({ length: partitions }, () => []);
  }

  /** Appends `count` good records to a partition; ids are `p<partition>-<offset>`. */
  produce(partition: number, count: number, make?: (offset: number) => SpoutMessage): void {
    const log = this.logs[partition];
    for (let i = 0; i < count; i++) {
      const offset = log.length;
      log.push(
        make?.(offset) ?? {
          offset: String(offset),
          key: tsKey(1_700_000_000_000_000n + BigInt(partition * 10_000_000 + offset) * 1000n),
          value: udpFrame(recordId(partition, offset)),
        },
      );
    }
  }

  end(partition: number): bigint {
    return BigInt(this.logs[partition].length);
  }

  /** A rebalance: a new generation; members must rejoin before they commit again. */
  rebalance(): number {
    return ++this.generation;
  }

  /** What an expired offsets.retention.minutes or `kafka-consumer-groups --reset-offsets` does. */
  resetOffsets(to: 'earliest' | 'none'): void {
    for (let p = 0; p < this.logs.length; p++) {
      if (to === 'none') this.committed.delete(p);
      else this.committed.set(p, 0n);
    }
  }
}

export const recordId = (partition: number, offset: number): string =>
  `p${partition}-${String(offset).padStart(12, '0')}`.slice(0, 16).padEnd(16, '.');
/** The id carried in a stored FROM_KEY record (frame at offset 40 of the pcap value, payload at 42). */
export const storedId = (value: Buffer): string => value.subarray(40 + 42, 40 + 58).toString('latin1');

export class ScriptedMember implements PartitionConsumer {
  private readonly assigned = new Set<number>();
  private readonly positions = new Map<number, bigint>();
  /** Bumped by every seek and rejoin: batches fetched before it are stale. */
  private epochs = new Map<number, number>();
  generation = -1;
  dead = false;
  seeks: Array<[number, bigint]> = [];
  /** Optional failure injection on commit (e.g. a crash right after it). */
  afterCommit?: (partition: number, offset: bigint) => void;

  constructor(
    readonly cluster: ScriptedCluster,
    private readonly fromBeginning = true,
  ) {}

  /** Joins the current generation with this assignment; every assigned partition goes to the committed offset. */
  join(partitions: number[]): { assigned: number[]; kept: number[]; revoked: number[] } {
    const now = new Set(partitions);
    const revoked = [...this.assigned].filter((p) => !now.has(p));
    const assigned = partitions.filter((p) => !this.assigned.has(p));
    const kept = partitions.filter((p) => this.assigned.has(p));
    this.assigned.clear();
    for (const p of partitions) {
      this.assigned.add(p);
      const committed = this.cluster.committed.get(p);
      this.positions.set(p, committed ?? (this.fromBeginning ? 0n : this.cluster.end(p)));
      this.bump(p);
    }
    this.generation = this.cluster.generation;
    return { assigned, kept, revoked };
  }

  private bump(p: number): void {
    this.epochs.set(p, (this.epochs.get(p) ?? 0) + 1);
  }

  async committed(partition: number): Promise<bigint | null> {
    this.check();
    return this.cluster.committed.get(partition) ?? null;
  }

  async commit(partition: number, nextOffset: bigint): Promise<void> {
    this.check();
    if (this.generation !== this.cluster.generation || !this.assigned.has(partition))
      throw new StaleGenerationError(
        `member of generation ${this.generation} cannot commit in ${this.cluster.generation}`,
      );
    this.cluster.committed.set(partition, nextOffset);
    this.cluster.commits.push([partition, nextOffset]);
    this.afterCommit?.(partition, nextOffset);
  }

  async offsets(partition: number): Promise<PartitionOffsets> {
    this.check();
    return { low: 0n, high: this.cluster.end(partition) };
  }

  seek(partition: number, offset: bigint): void {
    this.seeks.push([partition, offset]);
    this.positions.set(partition, offset);
    this.bump(partition);
  }

  owns(partition: number): boolean {
    return this.assigned.has(partition) && this.generation === this.cluster.generation;
  }

  position(partition: number): bigint {
    return this.positions.get(partition) ?? 0n;
  }

  /** The next batch of up to `max` records from the fetch position (empty at the end). */
  fetch(partition: number, max = 500): SpoutBatch {
    const from = Number(this.positions.get(partition) ?? 0n);
    const messages = this.cluster.logs[partition].slice(from, from + max);
    const epoch = this.epochs.get(partition);
    return {
      topic: this.cluster.topic,
      partition,
      messages,
      resolveOffset: (offset) => {
        if (this.epochs.get(partition) === epoch) this.positions.set(partition, BigInt(offset) + 1n);
      },
      shouldContinue: () => !this.dead && this.epochs.get(partition) === epoch,
    };
  }

  private check(): void {
    if (this.dead) throw new CrashError('process is dead');
  }
}

/** A simulated kill -9: the operation that hit the crash point completed, nothing after it runs. */
export class CrashError extends Error {}

export type CrashPoint = (op: string, path: string) => boolean;

/**
 * HDFS extended attributes for a local store, as the NameNode keeps them: one table per test, shared
 * by its processes (a restart finds them), carried by a rename, gone with a delete or an
 * overwriting create.
 */
export class AttributeTable {
  private readonly byPath = new Map<string, Map<string, Buffer>>();
  /** Refuse every attribute call, as a cluster with dfs.namenode.xattrs.enabled=false does. */
  refuse = false;

  refusal(op: string, path: string): StorageError | null {
    if (!this.refuse) return null;
    return new StorageError(
      `${op} ${path}: IOException: The XAttr operation has been rejected. Support for XAttrs has been disabled by setting dfs.namenode.xattrs.enabled to false.`,
      'IOException',
      path,
      403,
    );
  }

  set(path: string, name: string, value: Buffer): void {
    const values = this.byPath.get(path) ?? new Map<string, Buffer>();
    values.set(name, Buffer.from(value));
    this.byPath.set(path, values);
  }

  get(path: string, name: string): Buffer | null {
    return this.byPath.get(path)?.get(name) ?? null;
  }

  /** A rename of `from` (a file, or a directory and everything under it) to `to`. */
  moved(from: string, to: string): void {
    for (const [path, values] of [...this.byPath]) {
      if (path !== from && !path.startsWith(`${from}/`)) continue;
      this.byPath.delete(path);
      this.byPath.set(to + path.slice(from.length), values);
    }
  }

  /** A delete of `path` (and what is under it), or a create over it. */
  removed(path: string): void {
    for (const key of [...this.byPath.keys()]) if (key === path || key.startsWith(`${path}/`)) this.byPath.delete(key);
  }
}

/**
 * LocalStorage that dies (every later call throws CrashError) right after the operation `crashAfter`
 * names. Given an AttributeTable it also has file attributes ('setattr' and 'getattr' operations)
 * and, as HDFS, cheap directories: seal markers are then empty directories carrying their JSON in an
 * attribute (empty files with `emptyFileRecords`, as earlier versions wrote them).
 */
export class CrashableStorage implements Storage {
  readonly inner: LocalStorage;
  dead = false;
  ops: Array<[string, string]> = [];
  setAttribute?: (path: string, name: string, value: Buffer) => Promise<void>;
  getAttribute?: (path: string, name: string) => Promise<Buffer | null>;
  readonly cheapDirectories: boolean;

  constructor(
    dir: string,
    private crashAfter: CrashPoint | null = null,
    private readonly attributes: AttributeTable | null = null,
    options: { emptyFileRecords?: boolean } = {},
  ) {
    this.inner = new LocalStorage(dir);
    this.cheapDirectories = attributes !== null && options.emptyFileRecords !== true;
    if (attributes) {
      this.setAttribute = (path, name, value) =>
        this.run('setattr', path, async () => {
          const refused = attributes.refusal('setxattr', path);
          if (refused) throw refused;
          await this.mustExist('setxattr', path);
          attributes.set(path, name, value);
        });
      this.getAttribute = (path, name) =>
        this.run('getattr', path, async () => {
          const refused = attributes.refusal('getxattrs', path);
          if (refused) throw refused;
          await this.mustExist('getxattrs', path);
          return attributes.get(path, name);
        });
    }
  }

  private async mustExist(op: string, path: string): Promise<void> {
    if (!(await this.inner.stat(path)))
      throw new StorageError(`${op} ${path}: FileNotFoundException`, 'FileNotFoundException', path, 404);
  }

  get uri(): string {
    return this.inner.uri;
  }

  arm(point: CrashPoint | null): void {
    this.crashAfter = point;
  }

  private async run<T>(op: string, path: string, fn: () => Promise<T>): Promise<T> {
    if (this.dead) throw new CrashError(`dead (${op} ${path})`);
    const result = await fn();
    this.ops.push([op, path]);
    if (this.crashAfter?.(op, path)) {
      this.dead = true;
      throw new CrashError(`crashed after ${op} ${path}`);
    }
    return result;
  }

  mkdirs(path: string) {
    return this.run('mkdirs', path, () => this.inner.mkdirs(path));
  }
  create(path: string, body: WriteBody, options?: CreateOptions) {
    return this.run('create', path, async () => {
      await this.inner.create(path, body, options);
      this.attributes?.removed(path); // a new file (HDFS: a new inode) has no attributes
    });
  }
  append(path: string, body: WriteBody) {
    return this.run('append', path, () => this.inner.append(path, body));
  }
  createWriter(path: string, options?: CreateOptions) {
    return this.run('create', path, async () => {
      const writer = this.writer(path, await this.inner.createWriter(path, options));
      this.attributes?.removed(path);
      return writer;
    });
  }
  appendWriter(path: string) {
    return this.run('append', path, async () => this.writer(path, await this.inner.appendWriter(path)));
  }
  /** A streaming upload whose writes ('write') and close ('close') are crash points too. */
  private writer(path: string, inner: FileWriter): FileWriter {
    return {
      write: (chunk) => this.run('write', path, () => inner.write(chunk)),
      close: () => this.run('close', path, () => inner.close()),
      abort: () => inner.abort(),
    };
  }
  read(path: string, offset?: number, length?: number) {
    return this.run('read', path, () => this.inner.read(path, offset, length));
  }
  readBuffer(path: string, offset?: number, length?: number) {
    return this.run('read', path, () => this.inner.readBuffer(path, offset, length));
  }
  rename(from: string, to: string) {
    return this.run('rename', `${from} -> ${to}`, async () => {
      await this.inner.rename(from, to);
      this.attributes?.moved(from, to);
    });
  }
  listPage(dir: string, cursor?: string) {
    return this.run('list', dir, () => this.inner.listPage(dir, cursor));
  }
  async *list(dir: string) {
    if (this.dead) throw new CrashError('dead');
    for await (const e of this.inner.list(dir)) {
      if (this.dead) throw new CrashError('dead');
      yield e;
    }
  }
  stat(path: string) {
    return this.run('stat', path, () => this.inner.stat(path));
  }
  delete(path: string, recursive?: boolean) {
    return this.run('delete', path, async () => {
      const deleted = await this.inner.delete(path, recursive);
      this.attributes?.removed(path);
      return deleted;
    });
  }
  async close() {}
}

export interface HarnessOptions {
  dir: string;
  cluster: ScriptedCluster;
  instanceId: string;
  numPackets?: number;
  start?: StartMode;
  out?: string;
  layout?: OutputLayout;
  reingest?: string;
  crashAfter?: CrashPoint | null;
  chunkBytes?: number;
  deadLetters?: () => DeadLetterQueue;
  /** File attributes the store has (as HDFS has extended attributes); none when absent, as locally. */
  attributes?: AttributeTable;
  /** With attributes: markers as empty files, as earlier versions wrote them on HDFS (not directories). */
  emptyFileRecords?: boolean;
}

/** One simulated start-pcap-topology process: a member plus one PartitionOwner per assigned partition. */
export class HarnessProcess {
  readonly storage: CrashableStorage;
  readonly member: ScriptedMember;
  readonly owners = new Map<number, PartitionOwner>();
  readonly failures: unknown[] = [];
  readonly fatals: Error[] = [];
  readonly transitions: Array<[number, PartitionState, PartitionState]> = [];
  /** What the ledger warned about (a store refusing attributes). */
  readonly warnings: string[] = [];
  readonly layout: SinkLayout;
  private readonly ledger: Ledger;

  constructor(readonly options: HarnessOptions) {
    this.storage = new CrashableStorage(options.dir, options.crashAfter ?? null, options.attributes ?? null, {
      emptyFileRecords: options.emptyFileRecords,
    });
    this.member = new ScriptedMember(options.cluster, (options.start ?? 'UNCOMMITTED_EARLIEST').endsWith('EARLIEST'));
    this.layout = new SinkLayout(options.out ?? '/pcap', options.layout ?? 'flat');
    this.ledger = new Ledger(this.storage, this.layout, (message) => this.warnings.push(message));
  }

  get dead(): boolean {
    return this.storage.dead || this.member.dead;
  }

  kill(): void {
    this.storage.dead = true;
    this.member.dead = true;
  }

  owner(partition: number): PartitionOwner {
    let owner = this.owners.get(partition);
    if (!owner) {
      const { options } = this;
      owner = new PartitionOwner({
        partition,
        consumer: this.member,
        start: options.start ?? 'UNCOMMITTED_EARLIEST',
        encoder: new RecordEncoder('FROM_KEY', 'MICROSECONDS'),
        deadLetters: options.deadLetters?.() ?? null,
        retryDelayMs: 1,
        hooks: {
          onSealed: () => {},
          onBadRecord: () => {},
          onRecord: () => {},
          onFailure: (_p, err) => {
            this.failures.push(err);
          },
          onFatal: (err) => {
            this.fatals.push(err);
          },
          onReconciled: () => {},
          onTransition: (p, from, to) => {
            this.transitions.push([p, from, to]);
          },
        },
        sink: {
          storage: this.storage,
          layout: this.layout,
          ledger: this.ledger,
          topic: options.cluster.topic,
          instanceId: options.instanceId,
          policy: { numPackets: options.numPackets ?? 1000, maxTimeNs: 0n },
          chunkBytes: options.chunkBytes ?? 65536,
          replication: -1,
          reingest: options.reingest,
        },
      });
      this.owners.set(partition, owner);
    }
    return owner;
  }

  /** Joins the current generation with `partitions`, routing the diff as the topology does. */
  async join(partitions: number[]): Promise<void> {
    const { assigned, kept, revoked } = this.member.join(partitions);
    await Promise.all(revoked.map((p) => this.owner(p).revoke()));
    for (const p of kept) this.owner(p).kept();
    await Promise.all(assigned.map((p) => this.owner(p).assign()));
  }

  /** Fetches and handles one batch per owned partition; returns the number of records offered. */
  async step(max = 500): Promise<number> {
    let n = 0;
    for (const p of this.owners.keys()) {
      if (!this.member.owns(p) || this.dead) continue;
      const batch = this.member.fetch(p, max);
      n += batch.messages.length;
      if (batch.messages.length) await this.owner(p).handle(batch);
    }
    return n;
  }

  /** Steps until every owned partition's fetch position is at its end (or `limit` steps). */
  async drain(limit = 10_000, max = 500): Promise<void> {
    for (let i = 0; i < limit && !this.dead; i++) {
      const done = [...this.owners.keys()]
        .filter((p) => this.member.owns(p))
        .every(
          (p) =>
            this.member.position(p) >= this.options.cluster.end(p) &&
            this.owner(p).position !== null &&
            !this.owner(p).sink.sealInFlight, // a background seal may still fail and make it re-read
        );
      if (done) return;
      // Nothing to fetch while a seal finishes: let its I/O run.
      if ((await this.step(max)) === 0) await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** Seals what is open (as the idle timer does), for every owned partition. */
  async sealAll(): Promise<void> {
    await Promise.all([...this.owners.values()].map((o) => o.sealIfIdle(Date.now() + 1e9, 1)));
  }

  /** A graceful stop (SIGTERM). */
  async stop(): Promise<void> {
    await Promise.all([...this.owners.values()].map((o) => o.stop(() => {})));
  }
}

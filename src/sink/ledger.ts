import { randomBytes } from 'node:crypto';
import type { Storage } from '../storage/types.js';
import { isStorageError } from '../storage/errors.js';
import { SmallRecords } from '../storage/small-records.js';
import type { SinkLayout } from './layout.js';

/** A seal marker: the claim that offsets [first, last] of a partition are in one finished data file. */
export interface SealMarker {
  first: string;
  last: string;
  /** The in-progress data file and index, renamed to `dataPath` / `indexPath` when published. */
  tmpPath: string;
  tmpIndexPath?: string;
  dataPath: string;
  indexPath: string;
  count: number;
  instanceId: string;
  /** The writer epoch that claimed it (absent in markers of older versions: epoch 0). */
  epoch?: string;
  /** The `kafka.pcap.reingest` token in force when it was written, if any. */
  reingest?: string;
}

const parse = (m: SealMarker) => ({
  ...m,
  firstN: BigInt(m.first),
  lastN: BigInt(m.last),
  epochN: BigInt(m.epoch ?? '0'),
});
export type LoadedMarker = ReturnType<typeof parse> & { markerPath: string };

/** A claim written under its temporary name, not yet renamed into place. */
export interface PreparedClaim {
  temp: string;
  path: string;
}

/** A partition's state directory by names only: what the seal's fence and trim need. */
export interface LedgerNames {
  /** Seal markers' first offsets and paths, oldest first. */
  markers: { firstN: bigint; markerPath: string }[];
  /** Writer epochs present, ascending. */
  epochs: bigint[];
}

/** One listing of a partition's state directory. */
export interface LedgerScan {
  /** Seal markers, oldest first offset first. */
  markers: LoadedMarker[];
  /** Writer epochs present, ascending. */
  epochs: bigint[];
  /** Paths that are neither: claims in flight or crashed (`.claim-*`), unreadable markers. */
  leftovers: string[];
}

/**
 * The extended attribute carrying a marker's JSON on stores that have them (HDFS): the marker itself
 * is an empty directory (earlier writers made an empty file; both are read), so writing it needs no
 * DataNode at all (docs/exactly-once.md §2).
 */
export const MARKER_ATTRIBUTE = 'user.pcapline.claim';

const EPOCH = /^epoch-(\d{1,20})$/;
const MARKER = /^(\d{20})\.json$/;

/**
 * The per-partition ledger in the store: seal markers and writer epochs. This, not Kafka's
 * committed offset, is the source of truth for what a partition has stored (docs/exactly-once.md).
 *
 * - A marker is claimed exclusively, keyed by its first offset. It is written whole under a hidden
 *   temporary name and then renamed into place without replacing (atomic on both back ends), so no
 *   reader ever sees a claim half-written. On HDFS its JSON is an extended attribute of an empty
 *   directory (NameNode calls only); elsewhere, or where the cluster refuses attributes, the file's
 *   content. Readers take every form (SmallRecords).
 * - Every writer of a partition first takes a new epoch (an exclusive create of `epoch-<n>`, n above
 *   every epoch present) and stamps it in its markers. A claim counts only if, after it, no higher
 *   epoch exists: a writer that lost the partition (a zombie) can then never publish, even at an
 *   offset whose marker has since been trimmed.
 * - The sink keeps only the newest marker of each partition (plus claims in flight), and only the
 *   newest epochs: a scan costs one small listing however many files the store holds.
 */
export class Ledger {
  private readonly records: SmallRecords;

  constructor(
    private readonly storage: Storage,
    private readonly layout: SinkLayout,
    /** Told once if the store refuses extended attributes (markers then go into file contents). */
    onWarning?: (message: string) => void,
  ) {
    this.records = new SmallRecords(storage, MARKER_ATTRIBUTE, onWarning);
  }

  /** Returns false when another writer already claimed this first offset. */
  async claim(topic: string, partition: number, marker: SealMarker): Promise<boolean> {
    return this.commitClaim(await this.prepareClaim(topic, partition, marker));
  }

  /**
   * Writes a claim whole under a hidden temporary name (a `.claim-*` leftover until committed). On
   * HDFS an empty directory and its attribute: two NameNode calls, no DataNode. The sink does it
   * beside completing the data, so only the rename waits for the seals before it
   * (docs/exactly-once.md §4).
   */
  async prepareClaim(topic: string, partition: number, marker: SealMarker): Promise<PreparedClaim> {
    const path = this.layout.marker(topic, partition, BigInt(marker.first));
    const temp = `${this.layout.stateDir(topic, partition)}/.claim-${marker.first}-${randomBytes(6).toString('hex')}`;
    // A name no other writer can choose: no exclusive check needed (it costs a NameNode round trip).
    await this.records.write(temp, Buffer.from(JSON.stringify(marker)));
    return { temp, path };
  }

  /**
   * Renames a prepared claim into place without replacing: false when another writer claimed this
   * first offset, or removed the temporary claim (a newer writer's recovery: it holds the partition).
   */
  async commitClaim(claim: PreparedClaim): Promise<boolean> {
    try {
      await this.storage.rename(claim.temp, claim.path);
      return true;
    } catch (err) {
      await this.dropClaim(claim);
      if (isStorageError(err, 'FileAlreadyExistsException')) return false;
      if (isStorageError(err, 'FileNotFoundException')) return false;
      throw err;
    }
  }

  /** Removes a prepared claim that will not be committed (best effort: recovery removes leftovers). */
  async dropClaim(claim: PreparedClaim): Promise<void> {
    await this.storage.delete(claim.temp).catch(() => false);
  }

  async read(topic: string, partition: number, firstOffset: bigint): Promise<LoadedMarker | null> {
    const path = this.layout.marker(topic, partition, firstOffset);
    try {
      return { ...parse(JSON.parse((await this.records.read(path)).toString('utf8')) as SealMarker), markerPath: path };
    } catch (err) {
      if (isStorageError(err, 'FileNotFoundException')) return null;
      throw err;
    }
  }

  /** Markers and epochs of a partition, in one listing. */
  async scan(topic: string, partition: number): Promise<LedgerScan> {
    const dir = this.layout.stateDir(topic, partition);
    const scan: LedgerScan = { markers: [], epochs: [], leftovers: [] };
    try {
      for await (const entry of this.storage.list(dir)) {
        const epoch = entry.type === 'file' && EPOCH.exec(entry.name);
        if (epoch) {
          scan.epochs.push(BigInt(epoch[1]));
          continue;
        }
        if (!MARKER.test(entry.name)) {
          scan.leftovers.push(entry.path);
          continue;
        }
        let text: string;
        try {
          // The listing tells the form: an empty marker's (or a directory's) JSON is its attribute.
          const length = entry.type === 'directory' ? 0 : entry.length;
          text = (await this.records.read(entry.path, length)).toString('utf8');
        } catch (err) {
          if (isStorageError(err, 'FileNotFoundException')) continue; // trimmed meanwhile
          throw err;
        }
        try {
          scan.markers.push({ ...parse(JSON.parse(text) as SealMarker), markerPath: entry.path });
        } catch {
          // Markers are renamed into place whole; an unreadable one can only be a torn claim of an
          // older version. Its writer never relied on it; the partition's owner removes it.
          scan.leftovers.push(entry.path);
        }
      }
    } catch (err) {
      if (!isStorageError(err, 'FileNotFoundException')) throw err;
    }
    scan.markers.sort((a, b) => (a.firstN < b.firstN ? -1 : a.firstN > b.firstN ? 1 : 0));
    scan.epochs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return scan;
  }

  /**
   * Markers and epochs of a partition from one listing, without reading any marker: the fence needs
   * the epochs, trimming the markers' names (on HDFS each marker read is two more requests per seal).
   */
  async names(topic: string, partition: number): Promise<LedgerNames> {
    const dir = this.layout.stateDir(topic, partition);
    const names: LedgerNames = { markers: [], epochs: [] };
    try {
      for await (const entry of this.storage.list(dir)) {
        const epoch = entry.type === 'file' && EPOCH.exec(entry.name);
        if (epoch) names.epochs.push(BigInt(epoch[1]));
        const marker = MARKER.exec(entry.name);
        if (marker) names.markers.push({ firstN: BigInt(marker[1]), markerPath: entry.path });
      }
    } catch (err) {
      if (!isStorageError(err, 'FileNotFoundException')) throw err;
    }
    names.markers.sort((a, b) => (a.firstN < b.firstN ? -1 : a.firstN > b.firstN ? 1 : 0));
    names.epochs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return names;
  }

  /** All markers of a partition, oldest first. */
  async list(topic: string, partition: number): Promise<LoadedMarker[]> {
    return (await this.scan(topic, partition)).markers;
  }

  /**
   * Takes a new writer epoch for this partition: above every epoch present, created exclusively.
   * Loops when another writer took the same number, or when a higher one appeared meanwhile.
   */
  async newEpoch(topic: string, partition: number, instanceId: string): Promise<bigint> {
    for (;;) {
      const { epochs } = await this.scan(topic, partition);
      const next = (epochs.at(-1) ?? 0n) + 1n;
      const body = Buffer.from(JSON.stringify({ instanceId, at: new Date().toISOString() }));
      try {
        await this.storage.create(this.layout.epoch(topic, partition, next), body, { overwrite: false });
      } catch (err) {
        if (isStorageError(err, 'FileAlreadyExistsException')) continue;
        throw err;
      }
      // A number freed by trimming could be re-created below a newer epoch: only the newest counts.
      if ((await this.newerEpoch(topic, partition, next)) === null) return next;
    }
  }

  /** The highest epoch above `epoch`, or null when `epoch` is the newest. */
  async newerEpoch(
    topic: string,
    partition: number,
    epoch: bigint,
    scan?: Pick<LedgerScan, 'epochs'>,
  ): Promise<bigint | null> {
    const { epochs } = scan ?? (await this.scan(topic, partition));
    const top = epochs.at(-1);
    return top !== undefined && top > epoch ? top : null;
  }

  /** Removes epochs below `epoch` (never the newest: the fence needs it). */
  async trimEpochs(topic: string, partition: number, epoch: bigint, scan: LedgerScan): Promise<void> {
    for (const e of scan.epochs)
      if (e < epoch) await this.storage.delete(this.layout.epoch(topic, partition, e)).catch(() => false);
  }

  async remove(marker: Pick<LoadedMarker, 'markerPath'>): Promise<void> {
    await this.storage.delete(marker.markerPath);
  }

  /**
   * Removes a marker only if the file at its path is still that claim (same epoch and in-progress
   * file): a loser must never delete a marker another writer claimed at the same offset meanwhile.
   */
  async removeIfSame(marker: SealMarker & { markerPath: string }): Promise<void> {
    let current: SealMarker;
    try {
      current = JSON.parse((await this.records.read(marker.markerPath)).toString('utf8')) as SealMarker;
    } catch (err) {
      if (isStorageError(err, 'FileNotFoundException')) return;
      throw err;
    }
    if (current.tmpPath === marker.tmpPath && (current.epoch ?? '0') === (marker.epoch ?? '0'))
      await this.storage.delete(marker.markerPath);
  }
}

import type { Storage } from '../storage/types.js';
import { isStorageError } from '../storage/errors.js';
import type { SinkLayout } from './layout.js';

/** A seal marker: the claim that offsets [first, last] of a partition are in one finished data file. */
export interface SealMarker {
  first: string;
  last: string;
  tmpPath: string;
  dataPath: string;
  indexPath: string;
  count: number;
  instanceId: string;
}

const parse = (m: SealMarker) => ({ ...m, firstN: BigInt(m.first), lastN: BigInt(m.last) });
export type LoadedMarker = ReturnType<typeof parse> & { markerPath: string };

/**
 * The per-partition ledger of seal markers. A marker is created exclusively (create without
 * overwrite is atomic at the NameNode), keyed by the file's first offset: of two writers that
 * hold overlapping data for a partition (a zombie after a rebalance and the new owner), exactly one
 * wins the claim; the other discards its file. Markers are small and few: the sink deletes those
 * behind the committed offset, so reading a partition's ledger costs the same however many files
 * the store holds.
 */
export class Ledger {
  constructor(
    private readonly storage: Storage,
    private readonly layout: SinkLayout,
  ) {}

  /** Returns false when another writer already claimed this first offset. */
  async claim(topic: string, partition: number, marker: SealMarker): Promise<boolean> {
    const path = this.layout.marker(topic, partition, BigInt(marker.first));
    try {
      await this.storage.create(path, Buffer.from(JSON.stringify(marker)), { overwrite: false });
      return true;
    } catch (err) {
      if (isStorageError(err, 'FileAlreadyExistsException')) return false;
      throw err;
    }
  }

  async read(topic: string, partition: number, firstOffset: bigint): Promise<LoadedMarker | null> {
    const path = this.layout.marker(topic, partition, firstOffset);
    try {
      return {
        ...parse(JSON.parse((await this.storage.readBuffer(path)).toString('utf8')) as SealMarker),
        markerPath: path,
      };
    } catch (err) {
      if (isStorageError(err, 'FileNotFoundException')) return null;
      throw err;
    }
  }

  /** All markers of a partition, oldest first. */
  async list(topic: string, partition: number): Promise<LoadedMarker[]> {
    const dir = this.layout.stateDir(topic, partition);
    const markers: LoadedMarker[] = [];
    try {
      for await (const entry of this.storage.list(dir)) {
        if (entry.type !== 'file' || !entry.name.endsWith('.json')) continue;
        const text = (await this.storage.readBuffer(entry.path)).toString('utf8');
        try {
          markers.push({ ...parse(JSON.parse(text) as SealMarker), markerPath: entry.path });
        } catch {
          // A marker is valid only once its single create completed; a torn one comes from a create
          // that failed, and its writer never relied on it. Left in place it would block this offset.
          await this.storage.delete(entry.path).catch(() => false);
        }
      }
    } catch (err) {
      if (isStorageError(err, 'FileNotFoundException')) return [];
      throw err;
    }
    return markers.sort((a, b) => (a.firstN < b.firstN ? -1 : a.firstN > b.firstN ? 1 : 0));
  }

  async remove(marker: LoadedMarker): Promise<void> {
    await this.storage.delete(marker.markerPath);
  }
}

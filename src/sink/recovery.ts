import { isStorageError } from '../storage/errors.js';
import type { LoadedMarker } from './ledger.js';
import type { PartitionSink } from './partition-sink.js';

export interface RecoveryInput {
  /**
   * Where consumption would start without stored state: the group's committed offset, or the
   * partition's earliest/latest offset per `kafka.pcap.start`.
   */
  base: bigint;
  /** The group's committed offset (null when none), read once by the caller that derived `base`. */
  committed: bigint | null;
  /** `base` may lie below the committed offset on purpose (EARLIEST, a re-ingest): commit it anyway. */
  rewind: boolean;
  /** `kafka.pcap.reingest`: when no marker carries this token yet, the stored high-water mark is set aside once. */
  reingest?: string;
}

export interface RecoveryResult {
  /** The offset to consume from: never below the store's high-water mark (unless re-ingesting). */
  resume: bigint;
  /** One past the last offset the store holds for this partition, or null when it holds none. */
  highWater: bigint | null;
  /** The writer epoch taken for this ownership. */
  epoch: bigint;
  /** True when this recovery set the high-water mark aside for `kafka.pcap.reingest`. */
  reingested: boolean;
  /** Claims published by this recovery (crash after claim, before rename), and claims dropped. */
  rolledForward: number;
  dropped: number;
}

/**
 * Recovery of one partition (docs/exactly-once.md §5): take a new writer epoch, read the
 * ledger (one small listing), resolve overlapping claims, publish every valid claim not yet
 * published (roll forward), delete leftovers, and resume at max(high-water mark, base). The store,
 * not Kafka, decides where a partition resumes: a lost, reset or new group offset cannot make us
 * store a range twice. Cost: a few listings and reads per partition, independent of the number of
 * files the store holds.
 */
export async function recoverPartition(sink: PartitionSink, input: RecoveryInput): Promise<RecoveryResult> {
  await sink.abandon();
  const { storage, layout, ledger, topic, partition, instanceId } = sink.options;
  const epoch = await ledger.newEpoch(topic, partition, instanceId);
  // Everything claimed before this listing is visible to it; anything claimed after it carries an
  // older epoch and loses its fence.
  const scan = await ledger.scan(topic, partition);
  let rolledForward = 0;
  let dropped = 0;
  const reingested =
    input.reingest !== undefined && scan.markers.length > 0 && !scan.markers.some((m) => m.reingest === input.reingest);
  let kept: LoadedMarker[] = [];
  if (reingested) {
    // A deliberate re-ingest: the stored ranges stay, but the partition starts over at `base`.
    for (const m of scan.markers) {
      if ((await sink.settle(m)) === 'published') await ledger.remove(m).catch(() => {});
      dropped++;
    }
  } else {
    for (const m of scan.markers) {
      const top = kept.at(-1);
      if (!top || m.firstN > top.lastN) {
        kept.push(m);
        continue;
      }
      // Two claims overlap: at most one was valid. A published one wins (its data is visible, maybe
      // committed); between unpublished ones the newer epoch wins: a newer writer only overlaps an
      // older claim that was made after its recovery began, and such a claim lost its fence.
      const [topPublished, mPublished] = await Promise.all([storage.stat(top.dataPath), storage.stat(m.dataPath)]);
      const mWins = mPublished && !topPublished ? true : topPublished && !mPublished ? false : m.epochN > top.epochN;
      const loser = mWins ? top : m;
      if (mWins) kept[kept.length - 1] = m;
      if ((await sink.settle(loser)) === 'dropped') dropped++;
    }
    const published: LoadedMarker[] = [];
    for (const m of kept) {
      const wasPublished = (await storage.stat(m.dataPath)) !== null;
      if (await sink.publish(m)) {
        published.push(m);
        if (!wasPublished) rolledForward++;
      } else {
        await sink.settle(m);
        dropped++;
      }
    }
    kept = published;
  }
  // In-progress files not named by a valid claim are leftovers of a crash or of a writer that lost
  // the partition (whose claim, if it makes one, now fails its fence): their records are re-read.
  await deleteAll(sink, layout.inProgressDir(topic, partition));
  for (const path of scan.leftovers) await storage.delete(path).catch(() => false);
  // Only the newest marker is needed: it is the high-water mark.
  for (const m of kept.slice(0, -1)) await ledger.remove(m).catch(() => {});
  await ledger.trimEpochs(topic, partition, epoch, scan);
  const top = kept.at(-1);
  const highWater = top ? top.lastN + 1n : null;
  const resume = highWater !== null && highWater > input.base ? highWater : input.base;
  sink.begin(epoch, resume, input.committed);
  if (input.committed === null || resume > input.committed) await sink.commit(resume);
  else if (resume < input.committed && (input.rewind || reingested)) await sink.commitExactly(resume);
  return { resume, highWater, epoch, reingested, rolledForward, dropped };
}

async function deleteAll(sink: PartitionSink, dir: string): Promise<void> {
  const { storage } = sink.options;
  try {
    for await (const entry of storage.list(dir)) await storage.delete(entry.path).catch(() => false);
  } catch (err) {
    if (!isStorageError(err, 'FileNotFoundException')) throw err;
  }
}

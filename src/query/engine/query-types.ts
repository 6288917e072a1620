/** What a query asks for and what it reports (shared by the engine and its planner). */
import type { PacketFilter } from '../filter/filter.js';

export interface QuerySpec {
  basePath: string;
  startNs: bigint;
  endNs: bigint;
  filter: PacketFilter;
  /** False: ignore indexes and the catalog, and scan every selected file. */
  useIndex: boolean;
  /** Files read ahead in parallel. */
  concurrency: number;
  /** Bytes all open files' windows and reorder buffers share (default 32 MiB). */
  memoryBytes?: number;
  /** False: plan by listing the store even when it has a catalog. */
  useCatalog?: boolean;
}

export interface QueryStats {
  filesListed: number;
  filesConsidered: number;
  filesRead: number;
  filesByIndex: number;
  filesScanned: number;
  /** Files the catalog's sketches ruled out without opening them. */
  filesSkipped: number;
  /** How the files were found: 'catalog' (O(buckets) reads) or 'listing' (the whole store listed). */
  planning: 'catalog' | 'listing';
  bytesRead: number;
  packetsMatched: number;
  /** Records found damaged (corrupt file tails, undecodable values): counted, skipped. */
  malformed: number;
  problems: string[];
}

export const newStats = (): QueryStats => ({
  filesListed: 0,
  filesConsidered: 0,
  filesRead: 0,
  filesByIndex: 0,
  filesScanned: 0,
  filesSkipped: 0,
  planning: 'listing',
  bytesRead: 0,
  packetsMatched: 0,
  malformed: 0,
  problems: [],
});

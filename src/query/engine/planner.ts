/**
 * Which files a query reads. With a store catalog (docs/design.md §7), planning reads O(buckets)
 * small objects and lists only the window's index buckets; otherwise the base path is listed
 * recursively and pruned by index and name times (metron-compat §6.4).
 */
import { readCatalog } from '../../catalog/catalog-reader.js';
import type { CatalogEntry } from '../../catalog/catalog-format.js';
import { sketchKey } from '../../formats/index/bloom.js';
import { parsePcapFileName } from '../../formats/file-name.js';
import type { Storage } from '../../storage/types.js';
import type { TermPlan } from '../filter/filter.js';
import type { QuerySpec, QueryStats } from './query-types.js';
import { listDataFiles } from './listing.js';
import { selectFiles } from './prune.js';

export interface PlannedFile {
  /** Full path of the data file inside the store. */
  path: string;
  name: string;
  /** Length of the data file when the listing gave it (a catalog plan asks when the file is opened). */
  length?: number;
  topic: string;
  partition: number;
  /** Time in the file name: its first packet. */
  nameTsNs: bigint;
  /** Exact packet-time bounds, from the index or the catalog. */
  minTsNs?: bigint;
  maxTsNs?: bigint;
  indexPath?: string;
}

/** Plans by listing the whole base path (stores without a catalog, --no-index, single files). */
export async function planByListing(storage: Storage, spec: QuerySpec, stats: QueryStats): Promise<PlannedFile[]> {
  const { files, indexes } = await listDataFiles(storage, spec.basePath, spec.useIndex);
  stats.filesListed = files.length;
  stats.planning = 'listing';
  const { selected } = selectFiles(files, { startNs: spec.startNs, endNs: spec.endNs }, { basePath: spec.basePath });
  return selected.map((f) => ({
    path: f.path,
    name: f.name,
    length: f.length,
    topic: f.topic,
    partition: f.partition,
    nameTsNs: f.nameTsNs,
    minTsNs: f.minTsNs,
    maxTsNs: f.maxTsNs,
    indexPath: indexes.get(f.path),
  }));
}

/**
 * False when the file's sketches prove the plan cannot match any of its packets. Only single-term
 * leaves are tested (a Bloom filter answers membership); everything else is "maybe".
 */
export function mayMatch(plan: TermPlan | null, sketches: CatalogEntry['sketches']): boolean {
  if (plan === null) return true;
  switch (plan.op) {
    case 'none':
      return false;
    case 'term': {
      const only = plan.match.only;
      const sketch = sketches.get(plan.field);
      return only === undefined || !sketch || sketch.mayContain(sketchKey(only));
    }
    case 'and':
      return plan.parts.every((p) => mayMatch(p, sketches));
    case 'or':
      return plan.parts.some((p) => mayMatch(p, sketches));
    default:
      return true;
  }
}

/** Plans from the store catalog when the base path has one, else by listing. */
export async function planFiles(storage: Storage, spec: QuerySpec, stats: QueryStats): Promise<PlannedFile[]> {
  if (!spec.useIndex || spec.useCatalog === false) return planByListing(storage, spec, stats);
  const catalog = await readCatalog(storage, spec.basePath, spec.startNs, spec.endNs);
  if (!catalog) return planByListing(storage, spec, stats);
  stats.planning = 'catalog';
  stats.bytesRead += catalog.bytesRead;
  const plan = spec.filter.matchesAll ? null : spec.filter.termPlan;
  const out: PlannedFile[] = [];
  for (const f of catalog.files) {
    stats.filesListed++;
    const name = f.dataPath.slice(f.dataPath.lastIndexOf('/') + 1);
    const parsed = parsePcapFileName(name);
    if (!parsed || parsed.tsNs === null || parsed.partition === null) continue;
    if (f.entry && !mayMatch(plan, f.entry.sketches)) {
      stats.filesSkipped++;
      continue;
    }
    out.push({
      path: f.dataPath,
      name,
      topic: parsed.topic,
      partition: parsed.partition,
      nameTsNs: parsed.tsNs,
      minTsNs: f.minTsNs,
      maxTsNs: f.maxTsNs,
      indexPath: f.indexPath,
    });
  }
  return out;
}

/** The data files under a base path, each with its exact time bounds when its index is present. */
import { INDEX_DIR, parseIndexFileName } from '../../formats/index/packet-index-format.js';
import { isStorageError } from '../../storage/errors.js';
import type { Storage } from '../../storage/types.js';
import type { ListedFile } from './prune.js';

/**
 * Lists data files under basePath recursively, with exact bounds from index names when present:
 * v1 indexes sit in `_index` itself, v2 indexes in its hour buckets (`_index/<yyyyMMddHH>/`,
 * `_index/long/`); a v2 index wins over a v1 one for the same data file.
 */
export async function listDataFiles(
  storage: Storage,
  basePath: string,
  useIndex: boolean,
): Promise<{ files: ListedFile[]; indexes: Map<string, string> }> {
  const files: ListedFile[] = [];
  const indexes = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    const bounds = new Map<string, { min: bigint; max: bigint; path: string; v2: boolean }>();
    const note = (name: string, path: string, v2: boolean) => {
      const parsed = parseIndexFileName(name);
      if (!parsed || (bounds.get(parsed.dataFile)?.v2 && !v2)) return;
      bounds.set(parsed.dataFile, { min: parsed.minTsNs, max: parsed.maxTsNs, path, v2 });
    };
    const subdirs: string[] = [];
    const here: ListedFile[] = [];
    for await (const e of storage.list(dir)) {
      if (e.type === 'directory') {
        if (e.name === INDEX_DIR && useIndex) {
          for await (const ix of storage.list(e.path)) {
            if (ix.type === 'directory') {
              for await (const b of storage.list(ix.path)) if (b.type === 'file') note(b.name, b.path, true);
            } else note(ix.name, ix.path, false);
          }
        } else if (!e.name.startsWith('.') && !e.name.startsWith('_')) subdirs.push(e.path);
      } else if (!e.name.startsWith('.') && !e.name.startsWith('_')) {
        here.push({ path: e.path, name: e.name, length: e.length, type: 'file' });
      }
    }
    for (const f of here) {
      const b = bounds.get(f.name);
      if (b) {
        f.minTsNs = b.min;
        f.maxTsNs = b.max;
        indexes.set(f.path, b.path);
      }
      files.push(f);
    }
    for (const d of subdirs) await walk(d);
  };
  try {
    const st = await storage.stat(basePath);
    if (st?.type === 'file') {
      const name = basePath.slice(basePath.lastIndexOf('/') + 1);
      return { files: [{ path: basePath, name, length: st.length, type: 'file' }], indexes };
    }
    await walk(basePath);
  } catch (err) {
    if (isStorageError(err, 'FileNotFoundException')) return { files, indexes };
    throw err;
  }
  return { files, indexes };
}
